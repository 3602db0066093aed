import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LevelTrackingStore, MemoryTrackingStore, MlflowRestStore } from '@tributary/coordinator';
import type { MetricInput, TrackingStore } from '@tributary/coordinator';
import { MlflowContractFake } from './mlflow-contract-fake.js';
import { failureOf } from './failure.js';

/** How each store under contract is made fresh for a test, and put away after. */
interface StoreKind {
  name: string;
  setup(): Promise<void>;
  open(): Promise<TrackingStore>;
  cleanup(): Promise<void>;
  teardown(): Promise<void>;
}

const memoryKind = (): StoreKind => ({
  name: 'MemoryTrackingStore (memory:)',
  setup: async () => {},
  open: async () => MemoryTrackingStore.create(),
  cleanup: async () => {},
  teardown: async () => {},
});

const levelKind = (): StoreKind => {
  let dir = '';
  return {
    name: 'LevelTrackingStore (level://PATH)',
    setup: async () => {},
    open: async () => {
      dir = await mkdtemp(join(tmpdir(), 'tributary-tracking-'));
      return LevelTrackingStore.open(join(dir, 'tracking'));
    },
    cleanup: async () => {
      if (dir !== '') await rm(dir, { recursive: true, force: true });
    },
    teardown: async () => {},
  };
};

const restKind = (): StoreKind => {
  let fake: MlflowContractFake | undefined;
  return {
    name: 'MlflowRestStore against the MLflow REST contract fake',
    setup: async () => {
      fake = await MlflowContractFake.start();
    },
    open: async () => {
      fake!.reset();
      return MlflowRestStore.create({ uri: fake!.url, env: {}, maxRetries: 0 });
    },
    cleanup: async () => {},
    teardown: async () => {
      await fake?.stop();
    },
  };
};

const T0 = 1_700_000_000_000;


describe.each([memoryKind(), levelKind(), restKind()])('tracking store contract: $name', (kind) => {
  let store: TrackingStore;

  beforeAll(() => kind.setup());
  afterAll(() => kind.teardown());
  beforeEach(async () => {
    store = await kind.open();
  });
  afterEach(async () => {
    await store.close();
    await kind.cleanup();
  });

  async function newRun(name = 'run', over: { startTime?: number; tags?: Record<string, string> } = {}) {
    let experimentId: string;
    try {
      experimentId = (await store.getExperimentByName('churn')).experimentId;
    } catch {
      experimentId = await store.createExperiment('churn');
    }
    return store.createRun({ experimentId, runName: name, startTime: over.startTime ?? T0, tags: over.tags ?? {} });
  }

  describe('experiments', () => {
    it('creates an experiment and reads it back by id and by name', async () => {
      const id = await store.createExperiment('churn', { team: 'risk' });
      const byId = await store.getExperiment(id);
      const byName = await store.getExperimentByName('churn');
      expect(byId).toEqual(byName);
      expect(byId).toMatchObject({ experimentId: id, name: 'churn', lifecycleStage: 'active', tags: { team: 'risk' } });
    });

    it('refuses a second experiment of the same name with RESOURCE_ALREADY_EXISTS', async () => {
      await store.createExperiment('churn');
      const err = await failureOf(store.createExperiment('churn'));
      expect(err).toMatchObject({ code: 'ALREADY_EXISTS', reason: 'RESOURCE_ALREADY_EXISTS' });
      expect(err.message).toContain('churn');
    });

    it('reports an unknown experiment id or name as RESOURCE_DOES_NOT_EXIST', async () => {
      expect(await failureOf(store.getExperiment('424242'))).toMatchObject({ code: 'NOT_FOUND', reason: 'RESOURCE_DOES_NOT_EXIST' });
      expect(await failureOf(store.getExperimentByName('nope'))).toMatchObject({ code: 'NOT_FOUND', reason: 'RESOURCE_DOES_NOT_EXIST' });
    });

    it('refuses an empty experiment name', async () => {
      expect(await failureOf(store.createExperiment(''))).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'INVALID_PARAMETER_VALUE' });
    });

    it('searches experiments by name with LIKE and pages through them', async () => {
      for (const name of ['fed-a', 'fed-b', 'fed-c', 'other']) await store.createExperiment(name);
      const first = await store.searchExperiments({ filter: "name LIKE 'fed-%'", orderBy: ['name ASC'], maxResults: 2 });
      expect(first.experiments.map((e) => e.name)).toEqual(['fed-a', 'fed-b']);
      expect(first.nextPageToken).toBeTypeOf('string');
      const second = await store.searchExperiments({
        filter: "name LIKE 'fed-%'",
        orderBy: ['name ASC'],
        maxResults: 2,
        pageToken: first.nextPageToken!,
      });
      expect(second.experiments.map((e) => e.name)).toEqual(['fed-c']);
      expect(second.nextPageToken).toBeUndefined();
    });
  });

  describe('deleteExperiment', () => {
    it('marks the experiment deleted, still readable by id and by name', async () => {
      const id = await store.createExperiment('churn');
      await store.deleteExperiment(id);
      expect(await store.getExperiment(id)).toMatchObject({ experimentId: id, name: 'churn', lifecycleStage: 'deleted' });
      expect((await store.getExperimentByName('churn')).lifecycleStage).toBe('deleted');
    });

    it('marks its runs deleted: search no longer finds them and getRun shows them deleted', async () => {
      const run = await newRun('doomed');
      await store.deleteExperiment(run.info.experimentId);
      expect((await store.searchRuns({ experimentIds: [run.info.experimentId] })).runs).toEqual([]);
      expect((await store.getRun(run.info.runId)).info.lifecycleStage).toBe('deleted');
    });

    it('refuses writes to the runs of a deleted experiment, and new runs in it, with INVALID_PARAMETER_VALUE', async () => {
      const run = await newRun('doomed');
      await store.deleteExperiment(run.info.experimentId);
      expect(await failureOf(store.logBatch(run.info.runId, { params: [{ key: 'a', value: '1' }] }))).toMatchObject({ reason: 'INVALID_PARAMETER_VALUE' });
      expect(await failureOf(store.updateRun(run.info.runId, { status: 'FINISHED' }))).toMatchObject({ reason: 'INVALID_PARAMETER_VALUE' });
      expect(await failureOf(store.createRun({ experimentId: run.info.experimentId, runName: 'late' }))).toMatchObject({ reason: 'INVALID_PARAMETER_VALUE' });
    });

    it('keeps the name of a deleted experiment taken', async () => {
      await store.deleteExperiment(await store.createExperiment('churn'));
      expect(await failureOf(store.createExperiment('churn'))).toMatchObject({ code: 'ALREADY_EXISTS', reason: 'RESOURCE_ALREADY_EXISTS' });
    });

    it('refuses an unknown or already deleted experiment with RESOURCE_DOES_NOT_EXIST', async () => {
      expect(await failureOf(store.deleteExperiment('424242'))).toMatchObject({ code: 'NOT_FOUND', reason: 'RESOURCE_DOES_NOT_EXIST' });
      const id = await store.createExperiment('churn');
      await store.deleteExperiment(id);
      expect(await failureOf(store.deleteExperiment(id))).toMatchObject({ code: 'NOT_FOUND', reason: 'RESOURCE_DOES_NOT_EXIST' });
    });
  });

  describe('runs', () => {
    it('creates a RUNNING run with its name, start time and tags, the name mirrored in mlflow.runName', async () => {
      const run = await newRun('round-robin', { tags: { federation: 'churn' } });
      expect(run.info).toMatchObject({ runName: 'round-robin', status: 'RUNNING', startTime: T0, lifecycleStage: 'active' });
      expect(run.info.endTime).toBeUndefined();
      expect(run.data.tags).toMatchObject({ federation: 'churn', 'mlflow.runName': 'round-robin' });
      expect(await store.getRun(run.info.runId)).toEqual(run);
    });

    it('refuses a run in an unknown experiment with RESOURCE_DOES_NOT_EXIST', async () => {
      const err = await failureOf(store.createRun({ experimentId: '424242', runName: 'x' }));
      expect(err).toMatchObject({ code: 'NOT_FOUND', reason: 'RESOURCE_DOES_NOT_EXIST' });
    });

    it('reports an unknown run as RESOURCE_DOES_NOT_EXIST', async () => {
      const err = await failureOf(store.getRun('0123456789abcdef0123456789abcdef'));
      expect(err).toMatchObject({ code: 'NOT_FOUND', reason: 'RESOURCE_DOES_NOT_EXIST' });
    });

    it('updates status, end time and name, keeping the status when none is given', async () => {
      const run = await newRun('first');
      const renamed = await store.updateRun(run.info.runId, { runName: 'second' });
      expect(renamed).toMatchObject({ status: 'RUNNING', runName: 'second' });
      const ended = await store.updateRun(run.info.runId, { status: 'FINISHED', endTime: T0 + 5000 });
      expect(ended).toMatchObject({ status: 'FINISHED', endTime: T0 + 5000, runName: 'second' });
      const stored = await store.getRun(run.info.runId);
      expect(stored.info).toMatchObject({ status: 'FINISHED', endTime: T0 + 5000, runName: 'second' });
      expect(stored.data.tags['mlflow.runName']).toBe('second');
    });

    it('refuses an unknown run status', async () => {
      const run = await newRun();
      const err = await failureOf(store.updateRun(run.info.runId, { status: 'DONE' as never }));
      expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'INVALID_PARAMETER_VALUE' });
    });
  });

  describe('logBatch', () => {
    it('appends metrics and shows the latest by step in the run, not the last logged', async () => {
      const { info } = await newRun();
      await store.logBatch(info.runId, {
        metrics: [
          { key: 'loss', value: 0.5, timestamp: T0 + 2, step: 2 },
          { key: 'loss', value: 0.9, timestamp: T0 + 1, step: 1 },
        ],
      });
      await store.logBatch(info.runId, { metrics: [{ key: 'loss', value: 0.7, timestamp: T0 + 3, step: 1 }] });
      const run = await store.getRun(info.runId);
      expect(run.data.metrics['loss']).toEqual({ key: 'loss', value: 0.5, timestamp: T0 + 2, step: 2 });
    });

    it('returns metric history ordered by step, then timestamp', async () => {
      const { info } = await newRun();
      const points: MetricInput[] = [
        { key: 'acc', value: 0.3, timestamp: T0 + 30, step: 3 },
        { key: 'acc', value: 0.1, timestamp: T0 + 20, step: 1 },
        { key: 'acc', value: 0.2, timestamp: T0 + 10, step: 1 },
        { key: 'acc', value: 0.0, timestamp: T0 + 5, step: 0 },
      ];
      await store.logBatch(info.runId, { metrics: points });
      const { metrics, nextPageToken } = await store.getMetricHistory(info.runId, 'acc');
      expect(metrics.map((m) => [m.step, m.timestamp, m.value])).toEqual([
        [0, T0 + 5, 0.0],
        [1, T0 + 10, 0.2],
        [1, T0 + 20, 0.1],
        [3, T0 + 30, 0.3],
      ]);
      expect(nextPageToken).toBeUndefined();
    });

    it('pages metric history with maxResults and tokens, every point once', async () => {
      const { info } = await newRun();
      const metrics = Array.from({ length: 25 }, (_, i) => ({ key: 'loss', value: 1 / (i + 1), timestamp: T0 + i, step: i }));
      await store.logBatch(info.runId, { metrics });
      const steps: number[] = [];
      let pageToken: string | undefined;
      let pages = 0;
      do {
        const page = await store.getMetricHistory(info.runId, 'loss', { maxResults: 10, ...(pageToken ? { pageToken } : {}) });
        expect(page.metrics.length).toBeLessThanOrEqual(10);
        steps.push(...page.metrics.map((m) => m.step));
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken !== undefined);
      expect(pages).toBe(3);
      expect(steps).toEqual(Array.from({ length: 25 }, (_, i) => i));
    });

    it('keeps negative and very large steps in order', async () => {
      const { info } = await newRun();
      const steps = [Number.MAX_SAFE_INTEGER, -3, 0, -Number.MAX_SAFE_INTEGER, 7];
      await store.logBatch(info.runId, { metrics: steps.map((step) => ({ key: 'x', value: step, timestamp: T0, step })) });
      const { metrics } = await store.getMetricHistory(info.runId, 'x');
      expect(metrics.map((m) => m.step)).toEqual([-Number.MAX_SAFE_INTEGER, -3, 0, 7, Number.MAX_SAFE_INTEGER]);
      expect((await store.getRun(info.runId)).data.metrics['x']?.step).toBe(Number.MAX_SAFE_INTEGER);
    });

    it('stores an exact repeat of a metric point once, so a retried batch logs nothing twice', async () => {
      const { info } = await newRun();
      const point = { key: 'loss', value: 0.25, timestamp: T0, step: 4 };
      await store.logBatch(info.runId, { metrics: [point] });
      await store.logBatch(info.runId, { metrics: [point] });
      expect((await store.getMetricHistory(info.runId, 'loss')).metrics).toEqual([point]);
    });

    it('keeps NaN and ±Infinity metric values', async () => {
      const { info } = await newRun();
      await store.logBatch(info.runId, {
        metrics: [
          { key: 'nan', value: NaN, timestamp: T0, step: 0 },
          { key: 'inf', value: Infinity, timestamp: T0, step: 0 },
          { key: 'ninf', value: -Infinity, timestamp: T0, step: 0 },
        ],
      });
      const run = await store.getRun(info.runId);
      expect(run.data.metrics['nan']?.value).toBeNaN();
      expect(run.data.metrics['inf']?.value).toBe(Infinity);
      expect(run.data.metrics['ninf']?.value).toBe(-Infinity);
      expect((await store.getMetricHistory(info.runId, 'nan')).metrics[0]?.value).toBeNaN();
    });

    it('accepts the same value for a logged param again', async () => {
      const { info } = await newRun();
      await store.logBatch(info.runId, { params: [{ key: 'lr', value: '0.1' }] });
      await store.logBatch(info.runId, { params: [{ key: 'lr', value: '0.1' }] });
      expect((await store.getRun(info.runId)).data.params).toEqual({ lr: '0.1' });
    });

    it('refuses a new value for a logged param with INVALID_PARAMETER_VALUE, logging nothing of that batch', async () => {
      const { info } = await newRun();
      await store.logBatch(info.runId, { params: [{ key: 'lr', value: '0.1' }] });
      const err = await failureOf(
        store.logBatch(info.runId, {
          params: [{ key: 'lr', value: '0.2' }],
          metrics: [{ key: 'loss', value: 1, timestamp: T0, step: 0 }],
          tags: [{ key: 'note', value: 'x' }],
        }),
      );
      expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'INVALID_PARAMETER_VALUE' });
      expect(err.message).toContain('lr');
      const run = await store.getRun(info.runId);
      expect(run.data.params).toEqual({ lr: '0.1' });
      expect(run.data.metrics).toEqual({});
      expect(run.data.tags['note']).toBeUndefined();
    });

    it('refuses two values for one param key in a batch', async () => {
      const { info } = await newRun();
      const err = await failureOf(
        store.logBatch(info.runId, { params: [{ key: 'lr', value: '0.1' }, { key: 'lr', value: '0.1' }] }),
      );
      expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'INVALID_PARAMETER_VALUE' });
    });

    it('lets the last write of a tag win', async () => {
      const { info } = await newRun();
      await store.logBatch(info.runId, { tags: [{ key: 'model.version', value: '1' }] });
      await store.logBatch(info.runId, { tags: [{ key: 'model.version', value: '2' }] });
      expect((await store.getRun(info.runId)).data.tags['model.version']).toBe('2');
    });

    it('renames the run when the mlflow.runName tag is set', async () => {
      const { info } = await newRun('before');
      await store.logBatch(info.runId, { tags: [{ key: 'mlflow.runName', value: 'after' }] });
      expect((await store.getRun(info.runId)).info.runName).toBe('after');
    });

    it('stores a batch larger than one MLflow request completely', async () => {
      const { info } = await newRun();
      const params = Array.from({ length: 250 }, (_, i) => ({ key: `p${i}`, value: String(i) }));
      const tags = Array.from({ length: 150 }, (_, i) => ({ key: `t${i}`, value: String(i) }));
      const metrics = Array.from({ length: 2500 }, (_, i) => ({ key: `m${i % 5}`, value: i, timestamp: T0 + i, step: i }));
      await store.logBatch(info.runId, { params, tags, metrics });
      const run = await store.getRun(info.runId);
      expect(Object.keys(run.data.params)).toHaveLength(250);
      expect(Object.keys(run.data.tags).filter((k) => k.startsWith('t'))).toHaveLength(150);
      expect(run.data.metrics['m4']).toMatchObject({ value: 2499, step: 2499 });
      expect((await store.getMetricHistory(info.runId, 'm0')).metrics).toHaveLength(500);
    });

    it('refuses keys and values over MLflow limits with INVALID_PARAMETER_VALUE', async () => {
      const { info } = await newRun();
      const bad = [
        { params: [{ key: 'k'.repeat(251), value: 'v' }] },
        { params: [{ key: 'k', value: 'v'.repeat(6001) }] },
        { tags: [{ key: 't', value: 'v'.repeat(5001) }] },
        { metrics: [{ key: 'bad*name', value: 1, timestamp: T0, step: 0 }] },
        { metrics: [{ key: '../escape', value: 1, timestamp: T0, step: 0 }] },
        { metrics: [{ key: 'loss', value: 1, timestamp: -1, step: 0 }] },
        { metrics: [{ key: 'loss', value: '1' as unknown as number, timestamp: T0, step: 0 }] },
      ];
      for (const batch of bad) {
        expect(await failureOf(store.logBatch(info.runId, batch))).toMatchObject({
          code: 'INVALID_ARGUMENT',
          reason: 'INVALID_PARAMETER_VALUE',
        });
      }
      const run = await store.getRun(info.runId);
      expect(run.data.params).toEqual({});
      expect(run.data.metrics).toEqual({});
    });

    it('accepts keys and values exactly at MLflow limits', async () => {
      const { info } = await newRun();
      await store.logBatch(info.runId, {
        params: [{ key: 'k'.repeat(250), value: 'v'.repeat(6000) }],
        tags: [{ key: 'site/a b.c-d_e', value: 'v'.repeat(5000) }],
      });
      const run = await store.getRun(info.runId);
      expect(run.data.params['k'.repeat(250)]).toHaveLength(6000);
      expect(run.data.tags['site/a b.c-d_e']).toHaveLength(5000);
    });

    it('refuses logging to an unknown run with RESOURCE_DOES_NOT_EXIST', async () => {
      const err = await failureOf(
        store.logBatch('0123456789abcdef0123456789abcdef', { metrics: [{ key: 'loss', value: 1, timestamp: T0, step: 0 }] }),
      );
      expect(err).toMatchObject({ code: 'NOT_FOUND', reason: 'RESOURCE_DOES_NOT_EXIST' });
    });
  });

  describe('deleteTag', () => {
    it('removes a tag', async () => {
      const { info } = await newRun();
      await store.logBatch(info.runId, { tags: [{ key: 'draft', value: 'yes' }] });
      await store.deleteTag(info.runId, 'draft');
      expect((await store.getRun(info.runId)).data.tags['draft']).toBeUndefined();
    });

    it('reports a missing tag as RESOURCE_DOES_NOT_EXIST', async () => {
      const { info } = await newRun();
      expect(await failureOf(store.deleteTag(info.runId, 'nope'))).toMatchObject({
        code: 'NOT_FOUND',
        reason: 'RESOURCE_DOES_NOT_EXIST',
      });
    });
  });

  describe('searchRuns', () => {
    async function threeRuns() {
      const experimentId = await store.createExperiment('search');
      const make = async (name: string, startTime: number, acc: number | undefined, strategy: string, status: 'FINISHED' | 'RUNNING') => {
        const run = await store.createRun({ experimentId, runName: name, startTime, tags: { owner: name === 'c' ? 'bob' : 'ann' } });
        await store.logBatch(run.info.runId, {
          params: [{ key: 'strategy', value: strategy }],
          metrics: acc === undefined ? [] : [{ key: 'accuracy', value: acc, timestamp: startTime, step: 1 }],
        });
        if (status === 'FINISHED') await store.updateRun(run.info.runId, { status, endTime: startTime + 1 });
        return run.info.runId;
      };
      const a = await make('a', T0 + 1, 0.95, 'fedavg', 'FINISHED');
      const b = await make('b', T0 + 2, 0.85, 'fedprox', 'FINISHED');
      const c = await make('c', T0 + 3, undefined, 'fedavg', 'RUNNING');
      return { experimentId, a, b, c };
    }

    it('filters on metrics, params, tags and attributes joined by AND', async () => {
      const { experimentId, a } = await threeRuns();
      const { runs } = await store.searchRuns({
        experimentIds: [experimentId],
        filter: "metrics.accuracy > 0.9 and params.strategy = 'fedavg' and tags.owner != 'bob' and attributes.status = 'FINISHED'",
      });
      expect(runs.map((r) => r.info.runId)).toEqual([a]);
    });

    it('matches params with LIKE', async () => {
      const { experimentId, b } = await threeRuns();
      const { runs } = await store.searchRuns({ experimentIds: [experimentId], filter: "params.strategy LIKE 'fedp%'" });
      expect(runs.map((r) => r.info.runId)).toEqual([b]);
    });

    it('never matches a run that lacks the key, even with !=', async () => {
      const { experimentId, a, b } = await threeRuns();
      const { runs } = await store.searchRuns({ experimentIds: [experimentId], filter: 'metrics.accuracy != 0' });
      expect(runs.map((r) => r.info.runId).sort()).toEqual([a, b].sort());
    });

    it('orders by a metric with runs missing it last, and defaults to newest first', async () => {
      const { experimentId, a, b, c } = await threeRuns();
      const asc = await store.searchRuns({ experimentIds: [experimentId], orderBy: ['metrics.accuracy ASC'] });
      expect(asc.runs.map((r) => r.info.runId)).toEqual([b, a, c]);
      const desc = await store.searchRuns({ experimentIds: [experimentId], orderBy: ['metrics.accuracy DESC'] });
      expect(desc.runs.map((r) => r.info.runId)).toEqual([a, b, c]);
      const byDefault = await store.searchRuns({ experimentIds: [experimentId] });
      expect(byDefault.runs.map((r) => r.info.runId)).toEqual([c, b, a]);
      const byStart = await store.searchRuns({ experimentIds: [experimentId], orderBy: ['attributes.start_time ASC'] });
      expect(byStart.runs.map((r) => r.info.runId)).toEqual([a, b, c]);
    });

    it('pages through results with maxResults and tokens', async () => {
      const { experimentId, a, b, c } = await threeRuns();
      const first = await store.searchRuns({ experimentIds: [experimentId], maxResults: 2 });
      expect(first.runs.map((r) => r.info.runId)).toEqual([c, b]);
      const second = await store.searchRuns({ experimentIds: [experimentId], maxResults: 2, pageToken: first.nextPageToken! });
      expect(second.runs.map((r) => r.info.runId)).toEqual([a]);
      expect(second.nextPageToken).toBeUndefined();
    });

    it('returns runs with their latest metrics, params and tags', async () => {
      const { experimentId, a } = await threeRuns();
      const { runs } = await store.searchRuns({ experimentIds: [experimentId], filter: "attributes.run_name = 'a'" });
      expect(runs).toHaveLength(1);
      expect(runs[0]).toEqual(await store.getRun(a));
    });

    it('finds metrics whose keys need quoting', async () => {
      const { info } = await newRun();
      await store.logBatch(info.runId, { metrics: [{ key: 'site/north/loss', value: 0.2, timestamp: T0, step: 1 }] });
      const { runs } = await store.searchRuns({ experimentIds: [info.experimentId], filter: 'metrics."site/north/loss" < 0.5' });
      expect(runs.map((r) => r.info.runId)).toEqual([info.runId]);
    });

    it('searches only the experiments it is given', async () => {
      const { experimentId } = await threeRuns();
      const other = await newRun('elsewhere');
      const { runs } = await store.searchRuns({ experimentIds: [other.info.experimentId] });
      expect(runs.map((r) => r.info.runId)).toEqual([other.info.runId]);
      expect(other.info.experimentId).not.toBe(experimentId);
    });

    it('refuses a malformed filter with INVALID_PARAMETER_VALUE', async () => {
      const { experimentId } = await threeRuns();
      for (const filter of ["metrics.accuracy > 'high'", "params.strategy > 'a'", "metrics.accuracy > 0.9 or params.x = 'y'"]) {
        expect(await failureOf(store.searchRuns({ experimentIds: [experimentId], filter }))).toMatchObject({
          code: 'INVALID_ARGUMENT',
          reason: 'INVALID_PARAMETER_VALUE',
        });
      }
    });

    it('refuses maxResults above 50000', async () => {
      const { experimentId } = await threeRuns();
      expect(await failureOf(store.searchRuns({ experimentIds: [experimentId], maxResults: 50_001 }))).toMatchObject({
        reason: 'INVALID_PARAMETER_VALUE',
      });
    });
  });
});

describe('LevelTrackingStore on disk', () => {
  it('keeps experiments, runs, params, tags and metric history across reopening', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tributary-tracking-'));
    try {
      const path = join(dir, 'tracking');
      let store = await LevelTrackingStore.open(path);
      const experimentId = await store.createExperiment('churn');
      const run = await store.createRun({ experimentId, runName: 'r', startTime: T0 });
      await store.logBatch(run.info.runId, {
        params: [{ key: 'lr', value: '0.1' }],
        tags: [{ key: 'model.version', value: '3' }],
        metrics: [
          { key: 'loss', value: 0.5, timestamp: T0, step: 1 },
          { key: 'loss', value: NaN, timestamp: T0, step: 2 },
        ],
      });
      await store.close();

      store = await LevelTrackingStore.open(path);
      const again = await store.getRun(run.info.runId);
      expect(again.data.params).toEqual({ lr: '0.1' });
      expect(again.data.tags['model.version']).toBe('3');
      expect(again.data.metrics['loss']?.value).toBeNaN();
      expect((await store.getMetricHistory(run.info.runId, 'loss')).metrics).toHaveLength(2);
      // Experiment ids keep counting after a restart.
      expect(await store.createExperiment('next')).toBe(String(Number(experimentId) + 1));
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses calls after close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tributary-tracking-'));
    try {
      const store = await LevelTrackingStore.open(join(dir, 'tracking'));
      await store.close();
      expect(await failureOf(store.createExperiment('x'))).toMatchObject({ reason: 'TRACKING_STORE_CLOSED' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
