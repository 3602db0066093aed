import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SiteClient } from '@tributary/client-sdk';
import { encodeSafetensors, writeKeyFile, type FederationSettings } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSite, eventually, startStack, type Stack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

const SITE_PROCESS = fileURLToPath(new URL('../helpers/site-process.mjs', import.meta.url));

/**
 * A federation of two healthy sites in this process and one site in a child process that takes
 * its task and is killed with SIGKILL in the middle of training. Resolves once the kill is done.
 */
async function killOneSiteMidTraining(stack: Stack, federation: string, settings: FederationSettings, work: string): Promise<{ runId: string; healthy: Array<Promise<unknown>>; clients: SiteClient[] }> {
  await stack.admin.createFederation({ name: federation, settings, initialModel: encodeSafetensors(toyModel()) });
  const healthyKeys = [await addSite(stack, `${federation}-a`, [federation]), await addSite(stack, `${federation}-b`, [federation])];
  const doomedKey = await addSite(stack, `${federation}-doomed`, [federation]);
  const keyFile = join(work, `${federation}.key`);
  await writeKeyFile(keyFile, doomedKey);
  const outDir = await mkdtemp(join(work, `${federation}-`));
  const child: ChildProcess = spawn(process.execPath, [SITE_PROCESS], {
    env: { ...process.env, COORDINATOR: stack.coordinator.address, NATS: stack.nats.url, KEY_FILE: keyFile, FEDERATION: federation, OUT_DIR: outDir, DELTA: '0', NUM_EXAMPLES: '10', MAX_TASKS: '1', STALL: '1' },
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // The doomed site watches its tasks before the run starts, so it is in training well before the deadline.
  await eventually(async () => ((await connectedSites(stack)) >= 1 ? true : undefined), 30_000);
  const runId = (await stack.admin.startRun(federation)).id;
  await eventually(() => (existsSync(join(outDir, 'training')) ? true : undefined), 30_000);
  child.kill('SIGKILL');
  await exited;
  const clients = await Promise.all(healthyKeys.map((key) => SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key })));
  const healthy = clients.map((client) =>
    client.participate(federation, async (task) => ({ weights: toyTrain(task.model, client.site, task.round), numExamples: 10 }), { maxTasks: 1 }),
  );
  return { runId, healthy, clients };
}

/** Sites with an open WatchTasks stream. */
async function connectedSites(stack: Stack): Promise<number> {
  const text = await stack.coordinator.metrics.registry.getSingleMetricAsString('tributary_connected_sites');
  return Number(/tributary_connected_sites (\d+)/.exec(text)?.[1] ?? 0);
}

describe('a site killed in the middle of training', () => {
  let stack: Stack;
  let work: string;
  beforeAll(async () => {
    stack = await startStack();
    work = await mkdtemp(join(tmpdir(), 'tributary-stragglers-'));
  });
  afterAll(async () => {
    await stack?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('lets the round commit on quorum after wait_after_quorum, long before the deadline', async () => {
    const { runId, healthy, clients } = await killOneSiteMidTraining(stack, 'grace', { rounds: 1, minSites: 2, roundDeadlineSeconds: 600, waitAfterQuorumSeconds: 1 }, work);
    try {
      await Promise.all(healthy);
      expect((await stack.admin.waitForRun(runId)).status).toBe('RUN_STATUS_FINISHED');
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    const round = await stack.admin.getRound(runId, 1);
    expect(round.state).toBe('ROUND_STATE_COMMITTED');
    expect(round.accepted.map((u) => u.site).sort()).toEqual(['grace-a', 'grace-b']);
    expect(round.closedAtMs).toBeLessThan(round.deadlineAtMs);
  }, 60_000);

  it('fails the round with QUORUM_NOT_MET at the deadline when the quorum is out of reach, and the run with it', async () => {
    const { runId, healthy, clients } = await killOneSiteMidTraining(stack, 'short', { rounds: 2, minSites: 3, roundDeadlineSeconds: 15, waitAfterQuorumSeconds: 1 }, work);
    try {
      await Promise.all(healthy);
      const run = await stack.admin.waitForRun(runId);
      expect(run.status).toBe('RUN_STATUS_FAILED');
      expect(run.failureReason).toContain('QUORUM_NOT_MET');
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    const round = await stack.admin.getRound(runId, 1);
    expect(round.state).toBe('ROUND_STATE_FAILED');
    expect(round.failureReason).toMatch(/^QUORUM_NOT_MET: 2 of 3/);
  }, 60_000);
});
