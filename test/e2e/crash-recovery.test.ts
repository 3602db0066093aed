import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, type SigningKey, type TensorMap } from '@tributary/proto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addSites, interruptedUpload, metricValue, startProcessStack, type ProcessStack } from '../helpers/process-stack.js';
import { prepareUpload, type RawSite } from '../helpers/raw-site.js';
import { eventually } from '../helpers/stack.js';
import { referenceFedAvg, toyModel, toyTrain } from '../helpers/training.js';

/** Bytes per payload chunk here: the toy model's payload spans a dozen chunks, so an upload can stop halfway. */
const SMALL_CHUNK = 16;



function expectModel(model: TensorMap, expected: Record<string, Float64Array>): void {
  for (const [name, values] of Object.entries(expected)) {
    const got = model[name]?.data as Float32Array;
    values.forEach((v, i) => expect(Math.abs((got[i] ?? NaN) - v)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(v))));
  }
}

/**
 * A strategy whose round cannot finish while the file `hold` exists: the new model is the last
 * update folded. It pins a coordinator in the middle of a commit, with the last update recorded
 * and its manifest not yet acknowledged.
 */
function holdingStrategy(hold: string): string {
  return `
import { existsSync } from 'node:fs';
export const strategies = [{
  name: 'held-commit',
  validateOptions() { return {}; },
  selectSites(eligible) { return [...eligible]; },
  siteConfig() { return {}; },
  createAggregator() {
    let last;
    let count = 0;
    return {
      get count() { return count; },
      fold(update) { last = update.tensors; count++; },
      async finish() {
        while (existsSync(${JSON.stringify(hold)})) await new Promise((r) => setTimeout(r, 50));
        return { model: last, metrics: {} };
      },
    };
  },
}];
`;
}

describe('a coordinator killed with kill -9', () => {
  let stack: ProcessStack | undefined;
  let pluginDir: string;
  beforeAll(async () => {
    pluginDir = await mkdtemp(join(tmpdir(), 'tributary-held-commit-'));
    await writeFile(join(pluginDir, 'held-commit.mjs'), holdingStrategy(join(pluginDir, 'hold')));
  });
  afterAll(async () => {
    await rm(pluginDir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('takes new updates at once after a restart, although it died holding every ingest slot', async () => {
    stack = await startProcessStack({ ingest: { payloadTimeout: '3s' } });
    const base = toyModel();
    await stack.admin.createFederation({ name: 'slots', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 100 }, initialModel: encodeSafetensors(base) });
    const stalled = ['stall-1', 'stall-2', 'stall-3', 'stall-4'];
    const keys = await addSites(stack, 'slots', [...stalled, 'live']);
    const run = await stack.admin.startRun('slots');
    const raw = await stack.rawSite();
    try {
      // Four manifests whose chunks never come: each holds one of the four ingest slots.
      const js = raw.nc.jetstream();
      for (const site of stalled) {
        const upload = prepareUpload({ key: keys[site] as SigningKey, site, federation: 'slots', runId: run.id, round: 1, weights: toyTrain(base, site, 1) });
        await js.publish(upload.manifest.subject, upload.manifest.bytes, { msgID: upload.updateId });
      }
      await eventually(async () => ((await (stack as ProcessStack).heldManifests()) === 4 ? true : undefined));
      await stack.killCoordinator();
      await stack.startCoordinator();

      const live = await stack.rawSite();
      try {
        const verdict = live.send({ key: keys['live'] as SigningKey, site: 'live', federation: 'slots', runId: run.id, round: 1, weights: toyTrain(base, 'live', 1) });
        // Well inside the round's deadline, far sooner than the held deliveries' ack wait would allow before.
        await expect(verdict).resolves.toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
      } finally {
        await live.close();
      }
    } finally {
      await raw.close();
    }
  }, 90_000);

  it('completes the round after a restart with every update counted once, matching the uninterrupted model', async () => {
    stack = await startProcessStack();
    const base = toyModel();
    await stack.admin.createFederation({ name: 'resume', settings: { rounds: 1, minSites: 4, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(base) });
    const names = ['site-a', 'site-b', 'site-c', 'site-d'];
    const examples: Record<string, number> = { 'site-a': 10, 'site-b': 20, 'site-c': 30, 'site-d': 40 };
    const keys = await addSites(stack, 'resume', names);
    const run = await stack.admin.startRun('resume');
    const upload = (raw: RawSite, site: string) =>
      raw.send({ key: keys[site] as SigningKey, site, federation: 'resume', runId: run.id, round: 1, weights: toyTrain(base, site, 1), numExamples: examples[site] as number });

    const raw = await stack.rawSite();
    expect(await upload(raw, 'site-a')).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    expect(await upload(raw, 'site-b')).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    // site-c is halfway through its upload when the coordinator dies.
    const c = prepareUpload({ key: keys['site-c'] as SigningKey, site: 'site-c', federation: 'resume', runId: run.id, round: 1, weights: toyTrain(base, 'site-c', 1), numExamples: 30, chunkSize: SMALL_CHUNK });
    await raw.close();
    const live = stack;
    const cVerdict = await interruptedUpload(live, c, { federation: 'resume', site: 'site-c', verdictMs: 60_000 }, async () => {
      await live.killCoordinator();
      await live.startCoordinator();
    }, async (again) => {
      expect(await upload(again, 'site-d')).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    });
    expect(cVerdict).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
    const round = await stack.admin.getRound(run.id, 1);
    expect(round.accepted.map((a) => a.site).sort()).toEqual(names);
    const model = decodeSafetensors((await stack.admin.downloadModel('resume', 2)).bytes).tensors;
    expectModel(model, referenceFedAvg(names.map((site) => ({ weights: toyTrain(base, site, 1), numExamples: examples[site] as number }))));
  }, 120_000);

  it('answers the update it recorded while committing with its recorded verdict after a restart, not as a replay', async () => {
    stack = await startProcessStack({ strategyPlugins: [join(pluginDir, 'held-commit.mjs')] });
    const hold = join(pluginDir, 'hold');
    await writeFile(hold, '');
    const base = toyModel();
    await stack.admin.createFederation({ name: 'commit', settings: { strategy: 'held-commit', rounds: 1, minSites: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(base) });
    const keys = await addSites(stack, 'commit', ['last']);
    const run = await stack.admin.startRun('commit');
    const weights = toyTrain(base, 'last', 1);
    const raw = await stack.rawSite();
    try {
      const updateId = 'c3'.repeat(16);
      const verdict = raw.verdict('commit', 'last', updateId, 60_000);
      await raw.publish({ key: keys['last'] as SigningKey, site: 'last', federation: 'commit', runId: run.id, round: 1, weights, updateId });
      // Recorded and folded; the round is committing and the manifest is not acknowledged yet.
      await eventually(async () => ((await (stack as ProcessStack).admin.getRound(run.id, 1)).accepted.length === 1 ? true : undefined));
      expect(await stack.heldManifests()).toBe(1);
      await stack.killCoordinator();
      await rm(hold);
      await stack.startCoordinator();
      expect(await verdict).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED', reason: '' });
    } finally {
      await raw.close();
    }
    expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
    expect(metricValue(await stack.metricsText(), 'tributary_updates_refused_total', 'reason="REPLAYED_UPDATE"')).toBe(0);
    expect((await stack.admin.getRound(run.id, 1)).accepted).toHaveLength(1);
    expectModel(decodeSafetensors((await stack.admin.downloadModel('commit', 2)).bytes).tensors, { w: Float64Array.from(weights['w']?.data as Float32Array), b: Float64Array.from(weights['b']?.data as Float32Array) });
  }, 90_000);

  it('answers a StartRun retried after a kill -9 with the run the first call started', async () => {
    stack = await startProcessStack();
    await stack.admin.createFederation({ name: 'once', settings: { rounds: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(toyModel()) });
    await addSites(stack, 'once', ['only']);
    const requestId = 'start-once-1';
    const first = await stack.admin.startRun('once', { requestId });
    await stack.killCoordinator();
    await stack.startCoordinator();
    const again = await stack.admin.startRun('once', { requestId });
    expect(again).toMatchObject({ id: first.id, requestId, status: 'RUN_STATUS_RUNNING' });
    expect(await stack.admin.listRuns('once')).toHaveLength(1);
    await expect(stack.admin.startRun('once', { requestId: 'start-once-2' })).rejects.toMatchObject({ reason: 'RUN_ALREADY_RUNNING' });
  }, 60_000);

  it('stops on SIGTERM with exit code 0 without waiting for a stalled upload, and judges that update after the restart', async () => {
    stack = await startProcessStack({ ingest: { stopTimeout: '1s' } });
    const base = toyModel();
    await stack.admin.createFederation({ name: 'sigterm', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(base) });
    const keys = await addSites(stack, 'sigterm', ['slow']);
    const run = await stack.admin.startRun('sigterm');
    const upload = prepareUpload({ key: keys['slow'] as SigningKey, site: 'slow', federation: 'sigterm', runId: run.id, round: 1, weights: toyTrain(base, 'slow', 1), chunkSize: SMALL_CHUNK });
    const live = stack;
    const verdict = await interruptedUpload(live, upload, { federation: 'sigterm', site: 'slow', verdictMs: 30_000 }, async () => {
      expect(await live.terminateCoordinator()).toBe(0);
      await live.startCoordinator();
    });
    expect(verdict).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
    expect((await stack.admin.getRound(run.id, 1)).refused).toEqual([]);
  }, 90_000);
});
