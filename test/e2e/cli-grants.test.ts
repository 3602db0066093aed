import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, writeKeyFile } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeOf, runCli, type CliResult } from '../helpers/cli.js';
import { addSite, startStack, type Stack } from '../helpers/stack.js';
import { toyModel } from '../helpers/training.js';

function json<T>(r: CliResult): T {
  const envelope = envelopeOf<T>(r);
  if (!envelope.ok) throw new Error(`command failed: ${r.stdout}${r.stderr}`);
  return envelope.result as T;
}

describe('principals and grants through the CLI', () => {
  let stack: Stack;
  let dir: string;
  /** Runs `tributary <args>` signed with the key file `key` (the owner's by default). */
  const tributary = (args: string[], key = 'owner.key'): Promise<CliResult> =>
    runCli(args, { cwd: dir, withoutOuterSettings: true, env: { TRIBUTARY_COORDINATOR: stack.coordinator.address, TRIBUTARY_KEY: join(dir, key) } });

  beforeAll(async () => {
    stack = await startStack({}, { natsAuth: false });
    dir = await mkdtemp(join(tmpdir(), 'tributary-cli-grants-'));
    await writeKeyFile(join(dir, 'owner.key'), stack.adminKey);
    for (const name of ['churn', 'fraud']) await stack.admin.createFederation({ name, initialModel: encodeSafetensors(toyModel()) });
    // A member that never connects: runs of churn may start, and fail their first round.
    await addSite(stack, 'absent', ['churn']);
  });
  afterAll(async () => {
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('adds a principal in a group, grants the group operate, and the principal starts a run', async () => {
    expect((await tributary(['keygen', 'alice', '--out', 'alice.key'])).code).toBe(0);
    const add = await tributary(['principal', 'add', 'alice', '--public-key', 'alice.key', '--group', 'ml-team', '--description', 'data scientist']);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain('Added principal "alice"');

    const grant = await tributary(['grant', 'operate', 'federation:churn', 'group:ml-team', '--json']);
    expect(json(grant)).toMatchObject({ privilege: 'operate', resource: 'federation:churn', grantee: 'group:ml-team', grantedBy: 'owner' });

    // Its one member never connects, so the run fails its first round: what matters is that alice may start it.
    const start = envelopeOf(await tributary(['run', 'start', 'churn', '--json'], 'alice.key')) as { result?: { federation?: string }; error?: { code?: string } };
    expect(start.result?.federation).toBe('churn');
    expect(start.error?.code).not.toBe('PERMISSION_DENIED');
  });

  it('answers a call the principal may not make with the privilege it lacks', async () => {
    const denied = await tributary(['run', 'start', 'fraud', '--json'], 'alice.key');
    expect(denied.code).not.toBe(0);
    expect(envelopeOf(denied).error).toMatchObject({ code: 'PERMISSION_DENIED', message: 'principal "alice" needs operate on federation:fraud' });
  });

  it('lists grants, filtered by principal and federation', async () => {
    await tributary(['grant', 'read', 'federation:*', 'principal:alice']);
    const mine = json<Array<{ resource: string; grantee: string }>>(await tributary(['grants', '--principal', 'alice', '--json']));
    expect(mine.map((g) => `${g.grantee} ${g.resource}`).sort()).toEqual(['group:ml-team federation:churn', 'principal:alice federation:*']);
    const fraud = json<Array<{ resource: string }>>(await tributary(['grants', '--federation', 'fraud', '--json']));
    expect(fraud.map((g) => g.resource)).toEqual(['federation:*']);
    expect((await tributary(['grants'])).stdout).toContain('group:ml-team');
  });

  it('revokes a grant, after which the call is refused', async () => {
    const revoke = await tributary(['revoke', 'operate', 'federation:churn', 'group:ml-team']);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(revoke.stdout).toContain('Revoked operate on federation:churn from group:ml-team.');
    expect(envelopeOf(await tributary(['run', 'start', 'churn', '--json'], 'alice.key')).error?.code).toBe('PERMISSION_DENIED');
  });

  it('rotates a key: the old key file is refused and the new one works', async () => {
    await tributary(['keygen', 'alice', '--out', 'alice-2.key']);
    const rotate = await tributary(['principal', 'rotate', 'alice', '--public-key', 'alice-2.key']);
    expect(rotate.code, rotate.stderr).toBe(0);
    expect(envelopeOf(await tributary(['federation', 'list', '--json'], 'alice.key')).error?.code).toBe('AUTH_FAILED');
    expect((await tributary(['federation', 'list', '--json'], 'alice-2.key')).code).toBe(0);
  });

  it('disables a principal and lists it as disabled beside the owner', async () => {
    expect((await tributary(['principal', 'disable', 'alice'])).code).toBe(0);
    expect(envelopeOf(await tributary(['federation', 'list', '--json'], 'alice-2.key')).error?.code).toBe('PRINCIPAL_DISABLED');
    const listed = json<Array<{ name: string; status: string; owner: boolean }>>(await tributary(['principal', 'list', '--json']));
    expect(listed.map((p) => [p.name, p.status, p.owner])).toEqual([
      ['owner', 'PRINCIPAL_STATUS_ACTIVE', true],
      ['alice', 'PRINCIPAL_STATUS_DISABLED', false],
    ]);
    expect((await tributary(['principal', 'list'])).stdout).toMatch(/alice\s+DISABLED/);
  });

  it('refuses a malformed grant as a usage error, before calling the coordinator', async () => {
    const bad = await tributary(['grant', 'write', 'federation:churn', 'group:ml-team', '--json']);
    expect(bad.code).toBe(2);
    expect(envelopeOf(bad).error?.message).toContain('invalid privilege "write"');
  });
});
