import { mkdir } from 'node:fs/promises';
import { Level } from 'level';
import type { BatchOperation } from 'level';
import { LocalTrackingStore } from './local-store.js';
import type { RunRecord, RunWrite, TrackingBackend } from './local-store.js';
import { decodeMetricValue, encodeMetricValue, metricOfPointKey, metricPointKey } from './metric-points.js';
import type { Experiment, Metric } from './store.js';

// Composite keys join parts with NUL, which no run id, experiment id or metric key may hold
// (validation allows none), so `prefix + NUL` .. `prefix + SOH` covers exactly one run or metric.
const SEP = '\x00';
const AFTER_SEP = '\x01';
const EXPERIMENT_SEQ = 'experiment-seq';

/** A latest metric as JSON: NaN and ±Infinity as MLflow's JSON words. */
interface StoredMetric {
  value: number | string;
  timestamp: number;
  step: number;
}

type Db = Level<string, unknown>;
function openSublevel<V>(db: Db, name: string, valueEncoding: 'json' | 'utf8') {
  return db.sublevel<string, V>(name, { valueEncoding });
}
type Sublevel<V> = ReturnType<typeof openSublevel<V>>;
type BatchOp = BatchOperation<Db, string, unknown>;

class LevelBackend implements TrackingBackend {
  private readonly db: Db;
  private readonly meta: Sublevel<number>;
  private readonly experiments: Sublevel<Experiment>;
  /** name -> experiment id. */
  private readonly experimentNames: Sublevel<string>;
  private readonly runs: Sublevel<RunRecord>;
  /** experiment id, run id -> run id. */
  private readonly runsByExperiment: Sublevel<string>;
  /** run id, metric key -> latest point. */
  private readonly latest: Sublevel<StoredMetric>;
  /** run id, metric key, point key -> ''. Appending is one put; a range reads in (step, timestamp) order. */
  private readonly points: Sublevel<string>;
  private experimentSeq = 0;

  constructor(readonly path: string) {
    this.db = new Level<string, unknown>(path, { valueEncoding: 'json' });
    this.meta = openSublevel(this.db, 'meta', 'json');
    this.experiments = openSublevel(this.db, 'experiments', 'json');
    this.experimentNames = openSublevel(this.db, 'experiment-names', 'utf8');
    this.runs = openSublevel(this.db, 'runs', 'json');
    this.runsByExperiment = openSublevel(this.db, 'runs-by-experiment', 'utf8');
    this.latest = openSublevel(this.db, 'latest-metrics', 'json');
    this.points = openSublevel(this.db, 'metric-points', 'utf8');
  }

  async open(): Promise<void> {
    await mkdir(this.path, { recursive: true });
    await this.db.open();
    for (const sub of this.sublevels()) await sub.open();
    this.experimentSeq = (await this.meta.get(EXPERIMENT_SEQ)) ?? 0;
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  async nextExperimentId(): Promise<string> {
    return String(this.experimentSeq + 1);
  }

  getExperiment(experimentId: string): Promise<Experiment | undefined> {
    return this.experiments.get(experimentId);
  }

  getExperimentIdByName(name: string): Promise<string | undefined> {
    return this.experimentNames.get(name);
  }

  listExperiments(): Promise<Experiment[]> {
    return this.experiments.values().all();
  }

  async createExperiment(experiment: Experiment): Promise<void> {
    const seq = Number(experiment.experimentId);
    const ops: BatchOp[] = [
      { type: 'put', sublevel: this.experiments, key: experiment.experimentId, value: experiment },
      { type: 'put', sublevel: this.experimentNames, key: experiment.name, value: experiment.experimentId },
    ];
    if (Number.isSafeInteger(seq) && seq > this.experimentSeq) {
      ops.push({ type: 'put', sublevel: this.meta, key: EXPERIMENT_SEQ, value: seq });
    }
    await this.db.batch(ops);
    if (Number.isSafeInteger(seq) && seq > this.experimentSeq) this.experimentSeq = seq;
  }

  getRun(runId: string): Promise<RunRecord | undefined> {
    return this.runs.get(runId);
  }

  async listRuns(experimentIds: readonly string[]): Promise<RunRecord[]> {
    const ids: string[] = [];
    for (const experimentId of experimentIds) {
      ids.push(...(await this.runsByExperiment.values(prefixRange(experimentId)).all()));
    }
    if (ids.length === 0) return [];
    return (await this.runs.getMany(ids)).filter((r): r is RunRecord => r !== undefined);
  }

  async latestMetrics(runId: string, keys?: readonly string[]): Promise<Metric[]> {
    if (keys !== undefined) {
      if (keys.length === 0) return [];
      const found = await this.latest.getMany(keys.map((k) => runId + SEP + k));
      return found.flatMap((stored, i) => (stored === undefined ? [] : [fromStored(keys[i]!, stored)]));
    }
    const out: Metric[] = [];
    for await (const [k, stored] of this.latest.iterator(prefixRange(runId))) {
      out.push(fromStored(k.slice(runId.length + 1), stored));
    }
    return out;
  }

  async history(runId: string, key: string, after: string | undefined, limit: number): Promise<Metric[]> {
    const prefix = runId + SEP + key + SEP;
    const range = { gt: prefix + (after ?? ''), lt: runId + SEP + key + AFTER_SEP, limit };
    const keys = await this.points.keys(range).all();
    return keys.map((k) => metricOfPointKey(key, k.slice(prefix.length)));
  }

  async write(change: RunWrite): Promise<void> {
    const { runId } = change;
    const ops: BatchOp[] = [];
    if (change.record !== undefined) {
      ops.push({ type: 'put', sublevel: this.runs, key: runId, value: change.record });
      if (change.created === true) {
        const experimentId = change.record.info.experimentId;
        ops.push({ type: 'put', sublevel: this.runsByExperiment, key: experimentId + SEP + runId, value: runId });
      }
    }
    for (const p of change.points) {
      ops.push({ type: 'put', sublevel: this.points, key: runId + SEP + p.key + SEP + metricPointKey(p), value: '' });
    }
    for (const m of change.latest) {
      const value: StoredMetric = { value: encodeMetricValue(m.value), timestamp: m.timestamp, step: m.step };
      ops.push({ type: 'put', sublevel: this.latest, key: runId + SEP + m.key, value });
    }
    if (ops.length > 0) await this.db.batch(ops);
  }

  private sublevels(): Array<Sublevel<unknown>> {
    return [
      this.meta,
      this.experiments,
      this.experimentNames,
      this.runs,
      this.runsByExperiment,
      this.latest,
      this.points,
    ] as Array<Sublevel<unknown>>;
  }
}

function prefixRange(part: string): { gt: string; lt: string } {
  return { gt: part + SEP, lt: part + AFTER_SEP };
}

function fromStored(key: string, stored: StoredMetric): Metric {
  return { key, value: decodeMetricValue(stored.value) ?? NaN, timestamp: stored.timestamp, step: stored.step };
}

/** The `level://PATH` store: the embedded default, its own LevelDB database at PATH. */
export class LevelTrackingStore extends LocalTrackingStore {
  private constructor(readonly path: string) {
    super(new LevelBackend(path));
  }

  /** Opens (creating if needed) the database at `path`. */
  static async open(path: string): Promise<LevelTrackingStore> {
    const store = new LevelTrackingStore(path);
    await store.open();
    return store;
  }
}
