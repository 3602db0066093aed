import { execFileSync } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeSafetensors, generateSigningKey, type SigningKey } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcessStack, type ProcessStack } from '../helpers/process-stack.js';
import { eventually } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

/** The LevelDB log the state store appends to now: the highest-numbered `NNNNNN.log`. */
async function stateLog(dataDir: string): Promise<{ path: string; size: number }> {
  const dir = join(dataDir, 'state');
  const logs = (await readdir(dir)).filter((f) => /^\d+\.log$/.test(f)).sort();
  const name = logs.at(-1);
  if (name === undefined) throw new Error('no LevelDB log in the state directory');
  const path = join(dir, name);
  return { path, size: (await stat(path)).size };
}

/**
 * Lets the coordinator's files grow to `bytes` at most (RLIMIT_FSIZE, soft limit only): a write
 * past it fails as on a full disk, after writing what fits, so a LevelDB record is torn in two.
 */
function limitFileSize(pid: number, bytes: number | 'unlimited'): void {
  execFileSync('prlimit', ['--pid', String(pid), `--fsize=${bytes}:`]);
}

describe('a state write that fails on a full disk', () => {
  let stack: ProcessStack;
  let key: SigningKey;
  let runId: string;
  const base = toyModel();
  const accepted: string[] = [];

  beforeAll(async () => {
    stack = await startProcessStack();
    await stack.admin.createFederation({ name: 'disk', settings: { rounds: 3, minSites: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(base) });
    key = generateSigningKey('solo');
    await stack.admin.addSite({ name: 'solo', publicKey: key.publicKey, federations: ['disk'] });
    runId = (await stack.admin.startRun('disk')).id;
    const raw = await stack.rawSite();
    try {
      const updateId = 'a1'.repeat(16);
      expect(await raw.send({ key, site: 'solo', federation: 'disk', runId, round: 1, weights: toyTrain(base, 'solo', 1), updateId })).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
      accepted.push(updateId);
    } finally {
      await raw.close();
    }
    await eventually(async () => ((await stack.admin.getRound(runId, 2).catch(() => undefined))?.state === 'ROUND_STATE_OPEN' ? true : undefined));
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('stops accepting and says so in its health, and after a restart has lost nothing it acknowledged', async () => {
    const pid = stack.child.pid as number;
    const log = await stateLog(stack.dataDir);
    limitFileSize(pid, log.size + 20);
    const raw = await stack.rawSite();
    const second = 'b2'.repeat(16);
    const verdict = raw.verdict('disk', 'solo', second, 90_000);
    try {
      await raw.publish({ key, site: 'solo', federation: 'disk', runId, round: 2, weights: toyTrain(base, 'solo', 2), updateId: second });
      const health = await eventually(async () => {
        const h = await stack.healthz();
        return h.status === 503 ? h : undefined;
      });
      expect(health.body).toMatchObject({ status: 'failing', reason: 'STATE_WRITE_FAILED' });
      // In memory too, the round took nothing from the failed write.
      expect((await stack.admin.getRound(runId, 2)).accepted).toEqual([]);

      // Space returns; the coordinator still accepts nothing until it is restarted.
      limitFileSize(pid, 'unlimited');
      await expect(stack.admin.startRun('disk')).rejects.toMatchObject({ reason: expect.stringMatching(/RUN_ALREADY_RUNNING|STATE_WRITE_FAILED/) });
      await stack.killCoordinator();
      await stack.startCoordinator();
      expect((await stack.healthz()).body).toMatchObject({ status: 'ok' });

      // The update that met the full disk was never answered; it is judged now.
      expect(await verdict).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
      accepted.push(second);
    } finally {
      await raw.close();
    }
    await eventually(async () => ((await stack.admin.getRound(runId, 2)).state === 'ROUND_STATE_COMMITTED' ? true : undefined));
    const versions = (await stack.admin.listModelVersions('disk')).map((v) => v.version).sort((a, b) => a - b);
    expect(versions).toEqual([1, 2, 3]);
    expect((await stack.admin.getRound(runId, 1)).committedVersion).toBe(2);
    expect((await stack.admin.getRound(runId, 2)).committedVersion).toBe(3);
    const counted = [...(await stack.admin.getRound(runId, 1)).accepted, ...(await stack.admin.getRound(runId, 2)).accepted].map((u) => u.updateId);
    expect(counted).toEqual(accepted);
  }, 120_000);
});
