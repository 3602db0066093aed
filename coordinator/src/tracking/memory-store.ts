import { LocalTrackingStore } from './local-store.js';
import type { TrackingRunRecord, TrackingRunWrite, TrackingBackend } from './local-store.js';
import { metricPointKey } from './metric-points.js';
import type { Experiment, Metric } from './store.js';

/** A metric's history, sorted by point key; appends in order cost O(1). */
interface History {
  keys: string[];
  points: Metric[];
}

// Records are copied in and out, so callers never share objects with the store.
const copy = <T>(value: T): T => structuredClone(value);

class MemoryBackend implements TrackingBackend {
  private experimentSeq = 0;
  private readonly experiments = new Map<string, Experiment>();
  private readonly experimentNames = new Map<string, string>();
  private readonly runs = new Map<string, TrackingRunRecord>();
  private readonly runsByExperiment = new Map<string, Set<string>>();
  private readonly latest = new Map<string, Map<string, Metric>>();
  private readonly histories = new Map<string, Map<string, History>>();

  async open(): Promise<void> {}

  async close(): Promise<void> {}

  async nextExperimentId(): Promise<string> {
    return String(++this.experimentSeq);
  }

  async getExperiment(experimentId: string): Promise<Experiment | undefined> {
    const e = this.experiments.get(experimentId);
    return e === undefined ? undefined : copy(e);
  }

  async getExperimentIdByName(name: string): Promise<string | undefined> {
    return this.experimentNames.get(name);
  }

  async listExperiments(): Promise<Experiment[]> {
    return [...this.experiments.values()].map(copy);
  }

  async createExperiment(experiment: Experiment): Promise<void> {
    this.experiments.set(experiment.experimentId, copy(experiment));
    this.experimentNames.set(experiment.name, experiment.experimentId);
  }

  async updateExperiment(experiment: Experiment, runs: readonly TrackingRunRecord[]): Promise<void> {
    this.experiments.set(experiment.experimentId, copy(experiment));
    for (const r of runs) this.runs.set(r.info.runId, copy(r));
  }

  async getRun(runId: string): Promise<TrackingRunRecord | undefined> {
    const r = this.runs.get(runId);
    return r === undefined ? undefined : copy(r);
  }

  async listRuns(experimentIds: readonly string[]): Promise<TrackingRunRecord[]> {
    const out: TrackingRunRecord[] = [];
    for (const id of experimentIds) {
      for (const runId of this.runsByExperiment.get(id) ?? []) {
        const r = this.runs.get(runId);
        if (r !== undefined) out.push(copy(r));
      }
    }
    return out;
  }

  async latestMetrics(runId: string, keys?: readonly string[]): Promise<Metric[]> {
    const latest = this.latest.get(runId);
    if (latest === undefined) return [];
    const found = keys === undefined ? [...latest.values()] : keys.map((k) => latest.get(k));
    return found.filter((m): m is Metric => m !== undefined).map((m) => ({ ...m }));
  }

  async history(runId: string, key: string, after: string | undefined, limit: number): Promise<Metric[]> {
    const history = this.histories.get(runId)?.get(key);
    if (history === undefined) return [];
    const start = after === undefined ? 0 : upperBound(history.keys, after);
    return history.points.slice(start, start + limit).map((m) => ({ ...m }));
  }

  async write(change: TrackingRunWrite): Promise<void> {
    const { runId } = change;
    if (change.record !== undefined) {
      this.runs.set(runId, copy(change.record));
      if (change.created === true) {
        const experimentId = change.record.info.experimentId;
        const ids = this.runsByExperiment.get(experimentId) ?? new Set<string>();
        ids.add(runId);
        this.runsByExperiment.set(experimentId, ids);
      }
    }
    if (change.points.length > 0) {
      const histories = this.histories.get(runId) ?? new Map<string, History>();
      this.histories.set(runId, histories);
      for (const point of change.points) {
        const history = histories.get(point.key) ?? { keys: [], points: [] };
        histories.set(point.key, history);
        insertPoint(history, point);
      }
    }
    if (change.latest.length > 0) {
      const latest = this.latest.get(runId) ?? new Map<string, Metric>();
      this.latest.set(runId, latest);
      for (const m of change.latest) latest.set(m.key, { ...m });
    }
  }
}

/** Index of the first key greater than `key`. */
function upperBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertPoint(history: History, point: Metric): void {
  const key = metricPointKey(point);
  const last = history.keys[history.keys.length - 1];
  if (last === undefined || key > last) {
    history.keys.push(key);
    history.points.push({ ...point });
    return;
  }
  const at = upperBound(history.keys, key);
  if (history.keys[at - 1] === key) return; // the same point again
  history.keys.splice(at, 0, key);
  history.points.splice(at, 0, { ...point });
}

/** The `memory:` store: everything in process, gone on close. For tests and dry runs. */
export class MemoryTrackingStore extends LocalTrackingStore {
  private constructor() {
    super(new MemoryBackend());
  }

  static create(): MemoryTrackingStore {
    return new MemoryTrackingStore();
  }
}
