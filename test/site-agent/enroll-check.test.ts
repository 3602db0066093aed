import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeSafetensors } from '@tributary/proto';
import { startStack, type Stack } from '../helpers/stack.js';
import { toyModel } from '../helpers/training.js';
import { startSiteAgent } from './helpers.js';

describe('tributary-site enroll and check', () => {
  let stack: Stack;
  let work: string;

  beforeEach(async () => {
    stack = await startStack();
    work = await mkdtemp(join(tmpdir(), 'tributary-enroll-'));
    await stack.admin.createFederation({ name: 'toy', settings: { strategy: 'fedavg', rounds: 1 }, initialModel: encodeSafetensors(toyModel()) });
  });
  afterEach(async () => {
    await stack?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('enrolls with an invitation, writing a new key file, and check then finds every part working', async () => {
    const { token } = await stack.admin.createInvitation({ federations: ['toy'], siteName: 'lab-7' });
    const keyFile = join(work, 'site.key');
    const enroll = startSiteAgent(['enroll', '--token', token, '--key', keyFile, '--coordinator', stack.coordinator.address, '--json']);
    expect(await enroll.exited).toBe(0);
    const envelope = JSON.parse(enroll.stdout()) as { ok: boolean; result: { site: string; federations: string[]; keyCreated: boolean } };
    expect(envelope).toMatchObject({ ok: true, result: { site: 'lab-7', federations: ['toy'], keyCreated: true } });
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);

    const check = startSiteAgent(['check', '--key', keyFile, '--coordinator', stack.coordinator.address, '--nats', stack.nats.url, '--federation', 'toy']);
    expect(await check.exited).toBe(0);
    const table = check.stdout();
    for (const row of ['key file', 'coordinator (gRPC)', 'WhoAmI', 'federation membership', 'NATS']) expect(table).toMatch(new RegExp(`${row.replace(/[()]/g, '\\$&')}\\s+ok`));
    expect(table).toContain('site lab-7');
  });

  it('check names the failing part: a federation the site is not a member of', async () => {
    const { token } = await stack.admin.createInvitation({ federations: ['toy'], siteName: 'lab-8' });
    const keyFile = join(work, 'site.key');
    expect(await startSiteAgent(['enroll', '--token', token, '--key', keyFile, '--coordinator', stack.coordinator.address]).exited).toBe(0);
    const check = startSiteAgent(['check', '--key', keyFile, '--coordinator', stack.coordinator.address, '--nats', stack.nats.url, '--federation', 'other']);
    expect(await check.exited).toBe(1);
    expect(check.stdout()).toMatch(/federation membership\s+FAIL\s+not a member of other \(member of: toy\)/);
  });
});
