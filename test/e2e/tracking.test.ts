import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SiteClient } from '@tributary/client-sdk';
import { encodeSafetensors } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSite, eventually, startStack, type Stack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

const COORDINATOR_DIST = pathToFileURL(fileURLToPath(new URL('../../coordinator/dist/index.js', import.meta.url))).href;

/** Runs a federation of two SDK sites for `rounds` rounds; returns the run id. */
async function runFederation(stack: Stack, name: string, rounds: number): Promise<string> {
  await stack.admin.createFederation({
    name,
    settings: { rounds, minSites: 2, roundDeadlineSeconds: 60, strategy: 'fedavg' },
    initialModel: encodeSafetensors(toyModel()),
  });
  const keys = [await addSite(stack, `${name}-a`, [name]), await addSite(stack, `${name}-b`, [name])];
  const controller = new AbortController();
  const clients = await Promise.all(keys.map((key) => SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key })));
  const loops = clients.map((client, i) =>
    client.participate(
      name,
      async (task) => {
        task.log({ loss: 1 / task.round }, task.round);
        return {
          weights: toyTrain(task.model, client.site, task.round),
          numExamples: 10 * (i + 1),
          metrics: { accuracy: 0.5 + i * 0.1 },
          datasets: [{ name: `${client.site}-claims`, digest: 'ab'.repeat(32), rows: 10 * (i + 1) }],
          context: { 'code.version': 'v1.2.3' },
        };
      },
      { signal: controller.signal },
    ),
  );
  const run = await stack.admin.startRun(name);
  const ended = await stack.admin.waitForRun(run.id);
  controller.abort();
  await Promise.all(loops);
  await Promise.all(clients.map((c) => c.close()));
  expect(ended.status).toBe('RUN_STATUS_FINISHED');
  return run.id;
}

describe('runs in the tracking store', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('logs the run with params, per-round metrics at step = round, lineage tags and its final status', async () => {
    const runId = await runFederation(stack, 'tracked', 2);
    const tracker = stack.coordinator.tracker;
    await tracker.idle();
    const found = await eventually(async () => {
      const page = await tracker.searchTrackingRuns('tracked', {});
      return page.runs[0]?.status === 'FINISHED' ? page : undefined;
    });
    const tracked = found.runs[0];
    expect(tracked?.runId).toBe(runId);
    expect(tracked?.params).toMatchObject({ strategy: 'fedavg', rounds: '2', min_sites: '2', federation: 'tracked' });
    expect(tracked?.tags).toMatchObject({ 'tributary.model_version': '3', 'mlflow.source.name': 'tributary' });
    expect(tracked?.metrics['sites_accepted']).toBe(2);

    const accepted = await tracker.metricHistory('tracked', runId, 'sites_accepted');
    expect(accepted.series[0]?.points.map((p) => [p.step, p.value])).toEqual([
      [1, 2],
      [2, 2],
    ]);
    // The example-weighted mean of the sites' accuracy: (10 x 0.5 + 20 x 0.6) / 30.
    const accuracy = await tracker.metricHistory('tracked', runId, 'accuracy');
    expect(accuracy.series[0]?.points[0]?.value).toBeCloseTo((10 * 0.5 + 20 * 0.6) / 30, 12);

    const lineage = JSON.parse(tracked?.tags['tributary.round.2.lineage'] ?? '{}') as {
      version: number;
      sha256: string;
      parent: number;
      contributions: Array<{ site: string; sha256: string; datasets?: Array<{ name: string }>; context?: Record<string, string> }>;
    };
    const version = (await stack.admin.listModelVersions('tracked')).find((v) => v.version === 3);
    expect(lineage.version).toBe(3);
    expect(lineage.sha256).toBe(version?.sha256);
    expect(tracked?.tags['tributary.model_sha256']).toBe(version?.sha256);
    expect(lineage.parent).toBe(2);
    expect(lineage.contributions.map((c) => c.sha256).sort()).toEqual(version?.contributions.map((c) => c.payloadSha256).sort());
    expect(lineage.contributions.find((c) => c.site === 'tracked-a')?.datasets?.[0]?.name).toBe('tracked-a-claims');
    expect(lineage.contributions[0]?.context).toEqual({ 'code.version': 'v1.2.3' });
    // The same lineage is in the model version itself.
    expect(version?.contributions.find((c) => c.site === 'tracked-b')?.datasets[0]?.rows).toBe(20);
  });

  it('finds runs with MLflow search syntax', async () => {
    const none = await stack.coordinator.tracker.searchTrackingRuns('tracked', { filter: "params.strategy = 'fedadam'" });
    expect(none.runs).toHaveLength(0);
    const some = await stack.coordinator.tracker.searchTrackingRuns('tracked', { filter: 'metrics.sites_accepted >= 2', orderBy: ['attributes.start_time DESC'] });
    expect(some.runs).toHaveLength(1);
  });
});

describe('a tracking store that is down for a while', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-flaky-'));
    // A third-party store (selected by its scheme) that fails every write while the flag is set.
    await writeFile(
      join(dir, 'flaky.mjs'),
      `import { MemoryTrackingStore } from ${JSON.stringify(COORDINATOR_DIST)};
export const trackingStores = {
  flaky: async () => {
    const store = await MemoryTrackingStore.create();
    const failing = (name) => async (...args) => {
      if (globalThis.__trackingDown) throw new Error('tracking server unavailable');
      return store[name](...args);
    };
    return new Proxy(store, { get: (target, p) => (['logBatch', 'createRun', 'createExperiment'].includes(p) ? failing(p) : target[p]?.bind?.(target) ?? target[p]) });
  },
};
`,
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loses nothing: the rounds are logged once the store is back', async () => {
    (globalThis as Record<string, unknown>)['__trackingDown'] = true;
    const stack = await startStack({ trackingUri: 'flaky://', trackingPlugins: [join(dir, 'flaky.mjs')] });
    try {
      const runId = await runFederation(stack, 'outage', 2);
      expect((await stack.coordinator.tracker.searchTrackingRuns('outage', {})).runs).toHaveLength(0);
      (globalThis as Record<string, unknown>)['__trackingDown'] = false;
      const page = await eventually(async () => {
        const p = await stack.coordinator.tracker.searchTrackingRuns('outage', {});
        return p.runs[0]?.status === 'FINISHED' ? p : undefined;
      }, 30_000);
      expect(page.runs[0]?.runId).toBe(runId);
      const history = await stack.coordinator.tracker.metricHistory('outage', runId, 'model_version');
      expect(history.series[0]?.points.map((p) => p.value)).toEqual([2, 3]);
    } finally {
      (globalThis as Record<string, unknown>)['__trackingDown'] = false;
      await stack.stop();
    }
  });
});
