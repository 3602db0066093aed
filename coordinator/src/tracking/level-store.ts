import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { Level } from 'level';
import { decodeMetricValue, encodeMetricValue } from '@tributary/proto';
import { SEP, openSublevel, prefixRange, type LevelBatchOp, type LevelDb, type Sublevel } from '../state/level-layout.js';
import { LocalTrackingStore } from './local-store.js';
import type { TrackingRunRecord, TrackingRunWrite, TrackingBackend } from './local-store.js';
import { compareMetricPoints, metricOfPointKey, metricPointKey } from './metric-points.js';
import type { Experiment, Metric } from './store.js';

// No run id, experiment id or metric key may hold NUL (validation allows none), so a prefix range
// of composite keys covers exactly one run or metric.
const EXPERIMENT_SEQ = 'experiment-seq';
/** Blocks read from the database at a time while paging through a history. */
const BLOCKS_PER_READ = 64;

/** A latest metric as JSON: NaN and ±Infinity as MLflow's JSON words. */
interface StoredMetric {
  value: number | string;
  timestamp: number;
  step: number;
}

class LevelBackend implements TrackingBackend {
  private readonly db: LevelDb;
  private readonly meta: Sublevel<number>;
  private readonly experiments: Sublevel<Experiment>;
  /** name -> experiment id. */
  private readonly experimentNames: Sublevel<string>;
  private readonly runs: Sublevel<TrackingRunRecord>;
  /** experiment id, run id -> run id. */
  private readonly runsByExperiment: Sublevel<string>;
  /** run id, metric key -> latest point. */
  private readonly latest: Sublevel<StoredMetric>;
  /**
   * run id, metric key, first point key, last point key, content digest -> the points one write
   * added to the metric, sorted (see encodeBlock). A block a write rather than a record a point:
   * a LevelDB record costs about 5 µs of CPU to write, which capped streaming near 180,000
   * points/s; sites stream a few keys many points at a time, so blocks hold tens of points.
   * An identical block written again (a retried batch) lands on the same key.
   */
  private readonly blocks: Sublevel<Uint8Array>;
  private experimentSeq = 0;

  constructor(readonly path: string) {
    this.db = new Level<string, unknown>(path, { valueEncoding: 'json' });
    this.meta = openSublevel(this.db, 'meta', 'json');
    this.experiments = openSublevel(this.db, 'experiments', 'json');
    this.experimentNames = openSublevel(this.db, 'experiment-names', 'utf8');
    this.runs = openSublevel(this.db, 'runs', 'json');
    this.runsByExperiment = openSublevel(this.db, 'runs-by-experiment', 'utf8');
    this.latest = openSublevel(this.db, 'latest-metrics', 'json');
    this.blocks = openSublevel(this.db, 'metric-blocks', 'view');
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
    const ops: LevelBatchOp[] = [
      { type: 'put', sublevel: this.experiments, key: experiment.experimentId, value: experiment },
      { type: 'put', sublevel: this.experimentNames, key: experiment.name, value: experiment.experimentId },
    ];
    if (Number.isSafeInteger(seq) && seq > this.experimentSeq) {
      ops.push({ type: 'put', sublevel: this.meta, key: EXPERIMENT_SEQ, value: seq });
    }
    await this.db.batch(ops);
    if (Number.isSafeInteger(seq) && seq > this.experimentSeq) this.experimentSeq = seq;
  }

  async updateExperiment(experiment: Experiment, runs: readonly TrackingRunRecord[]): Promise<void> {
    await this.db.batch([
      { type: 'put', sublevel: this.experiments, key: experiment.experimentId, value: experiment },
      ...runs.map((r): LevelBatchOp => ({ type: 'put', sublevel: this.runs, key: r.info.runId, value: r })),
    ]);
  }

  getRun(runId: string): Promise<TrackingRunRecord | undefined> {
    return this.runs.get(runId);
  }

  async listRuns(experimentIds: readonly string[]): Promise<TrackingRunRecord[]> {
    const ids: string[] = [];
    for (const experimentId of experimentIds) {
      ids.push(...(await this.runsByExperiment.values(prefixRange(experimentId)).all()));
    }
    if (ids.length === 0) return [];
    return (await this.runs.getMany(ids)).filter((r): r is TrackingRunRecord => r !== undefined);
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

  /**
   * Blocks may overlap (points logged out of order, retries), so they are merged: blocks come in
   * order of their first point, and a pending point is final once it is below the next block's
   * first point. Blocks ending at or before `after` are skipped by their key alone.
   */
  async history(runId: string, key: string, after: string | undefined, limit: number): Promise<Metric[]> {
    const prefix = runId + SEP + key + SEP;
    const wanted: Array<{ key: string; first: string }> = [];
    for await (const k of this.blocks.keys(prefixRange(runId + SEP + key))) {
      const [first = '', last = ''] = k.slice(prefix.length).split(SEP, 2);
      if (after === undefined || last > after) wanted.push({ key: k, first });
    }
    const afterPoint = after === undefined ? undefined : metricOfPointKey(key, after);
    const out: Metric[] = [];
    let pending: Metric[] = [];
    // Moves pending points below `bound` (all, when undefined) to the output, each once.
    const settle = (bound: Metric | undefined): void => {
      let i = 0;
      for (; i < pending.length && out.length < limit; i++) {
        const p = pending[i]!;
        if (bound !== undefined && compareMetricPoints(p, bound) >= 0) break;
        const previous = out[out.length - 1];
        if (previous === undefined || compareMetricPoints(previous, p) !== 0) out.push(p);
      }
      pending = pending.slice(i);
    };
    for (let i = 0; i < wanted.length && out.length < limit; i += BLOCKS_PER_READ) {
      const slice = wanted.slice(i, i + BLOCKS_PER_READ);
      const values = await this.blocks.getMany(slice.map((b) => b.key));
      for (let j = 0; j < slice.length && out.length < limit; j++) {
        const bytes = values[j];
        if (bytes === undefined) continue;
        settle(metricOfPointKey(key, slice[j]!.first));
        let points = decodeBlock(key, bytes);
        if (afterPoint !== undefined) points = points.filter((p) => compareMetricPoints(p, afterPoint) > 0);
        pending = pending.length === 0 ? points : mergeSorted(pending, points);
      }
    }
    settle(undefined);
    return out;
  }

  async write(change: TrackingRunWrite): Promise<void> {
    const { runId } = change;
    const ops: LevelBatchOp[] = [];
    if (change.record !== undefined) {
      ops.push({ type: 'put', sublevel: this.runs, key: runId, value: change.record });
      if (change.created === true) {
        const experimentId = change.record.info.experimentId;
        ops.push({ type: 'put', sublevel: this.runsByExperiment, key: experimentId + SEP + runId, value: runId });
      }
    }
    for (const [key, points] of byKey(change.points)) {
      const sorted = sortedPoints(points);
      const value = encodeBlock(sorted);
      const digest = createHash('sha256').update(value).digest('hex').slice(0, 32);
      const span = metricPointKey(sorted[0]!) + SEP + metricPointKey(sorted[sorted.length - 1]!);
      ops.push({ type: 'put', sublevel: this.blocks, key: runId + SEP + key + SEP + span + SEP + digest, value });
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
      this.blocks,
    ] as Array<Sublevel<unknown>>;
  }
}

function byKey(points: readonly Metric[]): Map<string, Metric[]> {
  const groups = new Map<string, Metric[]>();
  for (const p of points) {
    const group = groups.get(p.key);
    if (group === undefined) groups.set(p.key, [p]);
    else group.push(p);
  }
  return groups;
}

/** In history order, exact repeats once (points of a write usually come in order already). */
function sortedPoints(points: Metric[]): Metric[] {
  let ordered = true;
  for (let i = 1; i < points.length && ordered; i++) ordered = compareMetricPoints(points[i - 1]!, points[i]!) < 0;
  if (ordered) return points;
  const sorted = [...points].sort(compareMetricPoints);
  return sorted.filter((p, i) => i === 0 || compareMetricPoints(sorted[i - 1]!, p) !== 0);
}

/** Two sorted lists as one, exact repeats once. */
function mergeSorted(a: readonly Metric[], b: readonly Metric[]): Metric[] {
  const out: Metric[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const c = j >= b.length ? -1 : i >= a.length ? 1 : compareMetricPoints(a[i]!, b[j]!);
    const next = c <= 0 ? a[i++]! : b[j++]!;
    if (c === 0) j++;
    const previous = out[out.length - 1];
    if (previous === undefined || compareMetricPoints(previous, next) !== 0) out.push(next);
  }
  return out;
}

// A block is (step, timestamp, value) for each point as little-endian float64s: steps and
// timestamps are safe integers, so exact; -0 is stored as 0, as in point keys.
function encodeBlock(points: readonly Metric[]): Uint8Array {
  const view = new DataView(new ArrayBuffer(points.length * 24));
  points.forEach((p, i) => {
    view.setFloat64(i * 24, p.step, true);
    view.setFloat64(i * 24 + 8, p.timestamp, true);
    view.setFloat64(i * 24 + 16, p.value === 0 ? 0 : p.value, true);
  });
  return new Uint8Array(view.buffer);
}

function decodeBlock(key: string, bytes: Uint8Array): Metric[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const points: Metric[] = [];
  for (let at = 0; at + 24 <= bytes.byteLength; at += 24) {
    points.push({ key, step: view.getFloat64(at, true), timestamp: view.getFloat64(at + 8, true), value: view.getFloat64(at + 16, true) });
  }
  return points;
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
