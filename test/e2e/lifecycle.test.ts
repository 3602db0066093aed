import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, writeKeyFile } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeOf, runCli, type CliResult } from '../helpers/cli.js';
import { addSite, startStack, type Stack } from '../helpers/stack.js';
import { toyModel } from '../helpers/training.js';

/** An operator's lifecycle commands through the `tributary` CLI, against a real coordinator and nats-server. */
describe('lifecycle commands', () => {
  let stack: Stack;
  let dir: string;
  const tributary = (args: string[]): Promise<CliResult> =>
    runCli(args, {
      cwd: dir,
      withoutOuterSettings: true,
      timeoutMs: 120_000,
      env: { TRIBUTARY_COORDINATOR: stack.coordinator.address, TRIBUTARY_KEY: join(dir, 'owner.key') },
    });

  beforeAll(async () => {
    stack = await startStack();
    dir = await mkdtemp(join(tmpdir(), 'tributary-lifecycle-'));
    await writeKeyFile(join(dir, 'owner.key'), stack.adminKey);
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  describe('run start', () => {
    beforeAll(async () => {
      await stack.admin.createFederation({ name: 'pair', settings: { minSites: 2, rounds: 1 }, initialModel: encodeSafetensors(toyModel()) });
      await addSite(stack, 'pair-a', ['pair']);
      await addSite(stack, 'pair-b', ['pair']);
      await stack.admin.revokeSite('pair-b');
    }, 120_000);

    it('refuses a federation with fewer eligible members than min_sites with QUORUM_NOT_MET and a hint', async () => {
      const r = await tributary(['run', 'start', 'pair', '--json']);
      expect(r.code).toBe(1);
      const { error } = envelopeOf(r);
      expect(error?.code).toBe('QUORUM_NOT_MET');
      expect(error?.message).toContain('1 eligible site(s)');
      expect(error?.hint).toContain('tributary site invite --federation');
    });

    it('creates no run and records nothing in tracking when it refuses', async () => {
      await tributary(['run', 'start', 'pair']);
      expect(await stack.admin.listRuns('pair')).toEqual([]);
      expect((await stack.admin.searchRuns('pair')).runs).toEqual([]);
    });
  });
});
