import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { encodeSafetensors } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSite } from '../helpers/raw-site.js';
import { addSite, eventually, startStack, type Stack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

const dist = (pkg: string): string => pathToFileURL(fileURLToPath(new URL(`../../${pkg}/dist/index.js`, import.meta.url))).href;

describe('metric keys', () => {
  let dir: string;
  let stack: Stack;
  let raw: RawSite;
  const base = toyModel();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-picky-'));
    // A third-party store stricter than MLflow: it refuses any batch with a metric named "strict".
    await writeFile(
      join(dir, 'picky.mjs'),
      `import { MemoryTrackingStore } from ${JSON.stringify(dist('coordinator'))};
import { TributaryError } from ${JSON.stringify(dist('proto'))};
export const trackingStores = {
  picky: async () => {
    const store = await MemoryTrackingStore.create();
    const logBatch = store.logBatch.bind(store);
    store.logBatch = async (runId, batch) => {
      if ((batch.metrics ?? []).some((m) => m.key === 'strict')) {
        throw new TributaryError({ code: 'INVALID_ARGUMENT', reason: 'INVALID_PARAMETER_VALUE', message: 'metric "strict" is not allowed here' });
      }
      return logBatch(runId, batch);
    };
    return store;
  },
};
`,
    );
    stack = await startStack({ trackingUri: 'picky://', trackingPlugins: [join(dir, 'picky.mjs')] });
    raw = await stack.rawSite();
  });
  afterAll(async () => {
    await raw?.close();
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function oneSiteRun(federation: string): Promise<{ send: (metrics: Record<string, number>) => ReturnType<RawSite['send']>; runId: string }> {
    await stack.admin.createFederation({ name: federation, settings: { rounds: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(base) });
    const key = await addSite(stack, `${federation}-site`, [federation]);
    const runId = (await stack.admin.startRun(federation)).id;
    const send = (metrics: Record<string, number>) =>
      raw.send({ key, site: `${federation}-site`, federation, runId, round: 1, weights: toyTrain(base, 'a', 1), tamper: { metrics } });
    return { send, runId };
  }

  it.each([
    ['a key that resolves elsewhere as a path', '../x'],
    ['a key with non-ASCII letters', 'pérdida'],
  ])('refuses an update reporting %s with INVALID_METRIC_KEY', async (_what, key) => {
    const { send, runId } = await oneSiteRun(`keys-${key === '../x' ? 'path' : 'ascii'}`);
    const v = await send({ [key]: 0.5 });
    expect(v).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason: 'INVALID_METRIC_KEY' });
    await stack.admin.stopRun(runId, 'done');
  });

  it("drops a round's record the tracking store refuses, saying why, and still logs the run's end", async () => {
    const { send, runId } = await oneSiteRun('picky-store');
    expect(await send({ strict: 0.5 })).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    expect((await stack.admin.waitForRun(runId)).status).toBe('RUN_STATUS_FINISHED');
    const tracked = await eventually(async () => {
      const page = await stack.coordinator.tracker.searchTrackingRuns('picky-store', {});
      // The refusal's tag and the run's end are separate writes from the tracking outbox.
      const run = page.runs[0];
      return run?.status === 'FINISHED' && run.tags['tributary.round.1.tracking_dropped'] !== undefined ? run : undefined;
    });
    expect(tracked.tags['tributary.round.1.tracking_dropped']).toMatch(/^INVALID_PARAMETER_VALUE: /);
  });
});
