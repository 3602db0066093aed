import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LevelTrackingStore, MemoryTrackingStore } from '@tributary/coordinator';
import type { Metric, MetricInput, TrackingStore } from '@tributary/coordinator';
import { prng } from '../helpers/random.js';

async function fullHistory(store: TrackingStore, runId: string, key: string, pageSize: number): Promise<Metric[]> {
  const out: Metric[] = [];
  let pageToken: string | undefined;
  do {
    const page = await store.getMetricHistory(runId, key, { maxResults: pageSize, ...(pageToken ? { pageToken } : {}) });
    out.push(...page.metrics);
    pageToken = page.nextPageToken;
  } while (pageToken !== undefined);
  return out;
}

// The level store keeps a write's points of a metric together in one record; these cases make
// such blocks overlap and repeat, and check that history still reads as the memory store's.
describe('LevelTrackingStore metric history over many writes', () => {
  let dir: string;
  let level: LevelTrackingStore;
  let memory: MemoryTrackingStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-level-history-'));
    level = await LevelTrackingStore.open(join(dir, 'tracking'));
    memory = MemoryTrackingStore.create();
  });

  afterEach(async () => {
    await level.close();
    await memory.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function runs(): Promise<[string, string]> {
    const a = await level.createRun({ experimentId: await level.createExperiment('e') });
    const b = await memory.createRun({ experimentId: await memory.createExperiment('e') });
    return [a.info.runId, b.info.runId];
  }

  it('reads out-of-order, overlapping and repeated writes as one ordered series, every point once, on any page size', async () => {
    const [levelRun, memoryRun] = await runs();
    const next = prng(7);
    const logged: MetricInput[] = [];
    for (let w = 0; w < 40; w++) {
      const base = Math.floor(next() * 200) - 20;
      const batch: MetricInput[] = [];
      for (let i = 0, n = 1 + Math.floor(next() * 30); i < n; i++) {
        const step = base + Math.floor(next() * 15);
        const value = next() < 0.05 ? NaN : next() < 0.05 ? -0 : Math.round(next() * 100) / 10;
        batch.push({ key: next() < 0.8 ? 'loss' : 'acc', value, timestamp: 1_000 + Math.floor(next() * 3), step });
      }
      // Some writes repeat earlier points exactly, as a retried batch does.
      if (logged.length > 0 && next() < 0.3) batch.push(...logged.slice(-Math.floor(next() * 10)));
      logged.push(...batch);
      await level.logBatch(levelRun, { metrics: batch });
      await memory.logBatch(memoryRun, { metrics: batch });
    }
    for (const key of ['loss', 'acc']) {
      // The level store keeps -0 as 0 (it always has); otherwise the two must agree.
      const expected = (await fullHistory(memory, memoryRun, key, 25_000)).map((m) => ({ ...m, value: m.value === 0 ? 0 : m.value }));
      expect(expected.length).toBeGreaterThan(50);
      for (const pageSize of [1, 7, 100, 25_000]) expect(await fullHistory(level, levelRun, key, pageSize)).toEqual(expected);
    }
  });

  it('writes an identical batch again without adding points', async () => {
    const [levelRun] = await runs();
    const batch = Array.from({ length: 50 }, (_, step) => ({ key: 'loss', value: step / 10, timestamp: 5, step }));
    await level.logBatch(levelRun, { metrics: batch });
    await level.logBatch(levelRun, { metrics: [...batch].reverse() });
    await level.logBatch(levelRun, { metrics: batch.slice(10, 20) });
    expect(await fullHistory(level, levelRun, 'loss', 30)).toEqual(batch);
  });
});
