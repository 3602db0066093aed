import { randomUUID } from 'node:crypto';
import { Reason, TributaryError } from '@tributary/proto';
import { isMetricPointKey, isNewerMetric, metricPointKey } from './metric-points.js';
import { decodePageToken, encodePageToken, searchExperimentList, searchTrackingRunList } from './search.js';
import type {
  CreateTrackingRunOptions,
  Experiment,
  ExperimentsPage,
  LogBatchInput,
  Metric,
  MetricHistoryPage,
  PageOptions,
  TrackingRun,
  TrackingRunInfo,
  TrackingRunsPage,
  SearchExperimentsOptions,
  SearchTrackingRunsOptions,
  TrackingStore,
  UpdateTrackingRunOptions,
} from './store.js';
import {
  RUN_NAME_TAG,
  normaliseBatch,
  validateExperimentId,
  validateExperimentName,
  validateExperimentTags,
  validateHistoryMaxResults,
  validateMetricKey,
  validateOptionalTrackingRunName,
  validateTrackingRunId,
  validateTrackingRunStatus,
  validateTrackingRunTags,
  validateSearchMaxResults,
  validateTagKey,
  validateTime,
} from './validation.js';

/** A run as an embedded store keeps it: info, params and tags (latest metrics live apart). */
export interface TrackingRunRecord {
  info: TrackingRunInfo;
  params: Record<string, string>;
  tags: Record<string, string>;
}

/** One atomic change to a run: its record (when params, tags or info changed) and metric points. */
export interface TrackingRunWrite {
  runId: string;
  record?: TrackingRunRecord;
  /** Whether `record` is a new run (so its experiment index entry is written too). */
  created?: boolean;
  /** Points to add to the history; exact repeats of stored points are no-ops. */
  points: Metric[];
  /** New latest values, already compared with the stored ones. */
  latest: Metric[];
}

/**
 * The storage an embedded store needs. `LocalTrackingStore` holds every MLflow rule (validation,
 * param immutability, latest metrics, run name tag, search and paging), so the memory and
 * LevelDB stores differ only here.
 */
export interface TrackingBackend {
  open(): Promise<void>;
  close(): Promise<void>;
  nextExperimentId(): Promise<string>;
  getExperiment(experimentId: string): Promise<Experiment | undefined>;
  getExperimentIdByName(name: string): Promise<string | undefined>;
  listExperiments(): Promise<Experiment[]>;
  /** Adds an experiment and its name index entry. */
  createExperiment(experiment: Experiment): Promise<void>;
  /** Replaces a stored experiment and the records of runs, in one write (deleting marks both). */
  updateExperiment(experiment: Experiment, runs: readonly TrackingRunRecord[]): Promise<void>;
  getRun(runId: string): Promise<TrackingRunRecord | undefined>;
  listRuns(experimentIds: readonly string[]): Promise<TrackingRunRecord[]>;
  /** The latest point of each of the run's metrics (only `keys`, when given). */
  latestMetrics(runId: string, keys?: readonly string[]): Promise<Metric[]>;
  /** History points strictly after the point key `after`, in point-key order. */
  history(runId: string, key: string, after: string | undefined, limit: number): Promise<Metric[]>;
  write(change: TrackingRunWrite): Promise<void>;
}

/** The TrackingStore rules over a backend: shared by MemoryTrackingStore and LevelTrackingStore. */
export class LocalTrackingStore implements TrackingStore {
  // Writes read what they replace (params, latest metrics), so they run one at a time.
  private writeTail: Promise<unknown> = Promise.resolve();
  private closed = false;

  protected constructor(private readonly backend: TrackingBackend) {}

  protected async open(): Promise<void> {
    await this.backend.open();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writeTail.catch(() => undefined);
    await this.backend.close();
  }

  async createExperiment(name: string, tags?: Record<string, string>): Promise<string> {
    this.checkOpen();
    const checkedName = validateExperimentName(name);
    const checkedTags = validateExperimentTags(tags);
    return this.serialised(async () => {
      if ((await this.backend.getExperimentIdByName(checkedName)) !== undefined) {
        throw TributaryError.of(Reason.RESOURCE_ALREADY_EXISTS, `Experiment '${checkedName}' already exists.`);
      }
      const experimentId = await this.backend.nextExperimentId();
      const now = Date.now();
      await this.backend.createExperiment({
        experimentId,
        name: checkedName,
        artifactLocation: '',
        lifecycleStage: 'active',
        creationTime: now,
        lastUpdateTime: now,
        tags: Object.fromEntries(checkedTags.map((t) => [t.key, t.value])),
      });
      return experimentId;
    });
  }

  async getExperiment(experimentId: string): Promise<Experiment> {
    this.checkOpen();
    const experiment = await this.backend.getExperiment(validateExperimentId(experimentId));
    if (experiment === undefined) throw TributaryError.of(Reason.RESOURCE_DOES_NOT_EXIST, `No Experiment with id=${experimentId} exists`);
    return experiment;
  }

  async getExperimentByName(name: string): Promise<Experiment> {
    this.checkOpen();
    const id = await this.backend.getExperimentIdByName(validateExperimentName(name));
    const experiment = id === undefined ? undefined : await this.backend.getExperiment(id);
    if (experiment === undefined) throw TributaryError.of(Reason.RESOURCE_DOES_NOT_EXIST, `Could not find experiment with name '${name}'`);
    return experiment;
  }

  async deleteExperiment(experimentId: string): Promise<void> {
    this.checkOpen();
    const id = validateExperimentId(experimentId);
    await this.serialised(async () => {
      const experiment = await this.backend.getExperiment(id);
      // As MLflow: only an active experiment can be deleted.
      if (experiment === undefined || experiment.lifecycleStage !== 'active') throw TributaryError.of(Reason.RESOURCE_DOES_NOT_EXIST, `No Experiment with id=${experimentId} exists`);
      const runs = (await this.backend.listRuns([id])).filter((r) => r.info.lifecycleStage === 'active').map((r) => ({ ...r, info: { ...r.info, lifecycleStage: 'deleted' as const } }));
      await this.backend.updateExperiment({ ...experiment, lifecycleStage: 'deleted', lastUpdateTime: Date.now() }, runs);
    });
  }

  async searchExperiments(options: SearchExperimentsOptions = {}): Promise<ExperimentsPage> {
    this.checkOpen();
    const maxResults = validateSearchMaxResults(options.maxResults);
    return searchExperimentList(await this.backend.listExperiments(), {
      maxResults,
      ...(options.filter === undefined ? {} : { filter: options.filter }),
      ...(options.orderBy === undefined ? {} : { orderBy: options.orderBy }),
      ...(options.pageToken === undefined ? {} : { pageToken: options.pageToken }),
    });
  }

  async createRun(options: CreateTrackingRunOptions): Promise<TrackingRun> {
    this.checkOpen();
    const experimentId = validateExperimentId(options.experimentId);
    const startTime = validateTime('start_time', options.startTime ?? Date.now());
    const tags = validateTrackingRunTags(options.tags);
    const tagRecord: Record<string, string> = Object.fromEntries(tags.map((t) => [t.key, t.value]));
    const nameTag = Object.hasOwn(tagRecord, RUN_NAME_TAG) ? tagRecord[RUN_NAME_TAG] : undefined;
    const givenName = validateOptionalTrackingRunName(options.runName);
    if (givenName !== undefined && nameTag !== undefined && givenName !== nameTag) {
      throw TributaryError.of(
        Reason.INVALID_PARAMETER_VALUE,
        `Both 'run_name' argument and '${RUN_NAME_TAG}' tag are specified, but with different values ` +
          `(run_name='${givenName}', ${RUN_NAME_TAG}='${nameTag}').`,
      );
    }
    if (options.userId !== undefined && typeof options.userId !== 'string') {
      throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, 'user_id must be a string');
    }
    const runId = randomUUID().replaceAll('-', '');
    const runName = givenName ?? nameTag ?? `run-${runId.slice(0, 8)}`;
    return this.serialised(async () => {
      const experiment = await this.backend.getExperiment(experimentId);
      if (experiment === undefined) throw TributaryError.of(Reason.RESOURCE_DOES_NOT_EXIST, `No Experiment with id=${experimentId} exists`);
      if (experiment.lifecycleStage !== 'active') {
        throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, `The experiment ${experimentId} must be in the 'active' state.`);
      }
      const record: TrackingRunRecord = {
        info: {
          runId,
          experimentId,
          runName,
          status: 'RUNNING',
          startTime,
          lifecycleStage: 'active',
          ...(options.userId === undefined ? {} : { userId: options.userId }),
        },
        params: {},
        tags: { ...tagRecord, [RUN_NAME_TAG]: runName },
      };
      await this.backend.write({ runId, record, created: true, points: [], latest: [] });
      return toTrackingRun(record, []);
    });
  }

  async getRun(runId: string): Promise<TrackingRun> {
    this.checkOpen();
    const record = await this.trackingRunRecord(runId);
    return toTrackingRun(record, await this.backend.latestMetrics(record.info.runId));
  }

  async updateRun(runId: string, update: UpdateTrackingRunOptions): Promise<TrackingRunInfo> {
    this.checkOpen();
    const status = update.status === undefined ? undefined : validateTrackingRunStatus(update.status);
    const endTime = update.endTime === undefined ? undefined : validateTime('end_time', update.endTime);
    const runName = validateOptionalTrackingRunName(update.runName);
    return this.serialised(async () => {
      const record = await this.activeTrackingRun(runId);
      const info: TrackingRunInfo = {
        ...record.info,
        ...(status === undefined ? {} : { status }),
        ...(endTime === undefined ? {} : { endTime }),
        ...(runName === undefined ? {} : { runName }),
      };
      const tags = runName === undefined ? record.tags : { ...record.tags, [RUN_NAME_TAG]: runName };
      await this.backend.write({ runId: info.runId, record: { ...record, info, tags }, points: [], latest: [] });
      return info;
    });
  }

  async searchRuns(options: SearchTrackingRunsOptions): Promise<TrackingRunsPage> {
    this.checkOpen();
    if (!Array.isArray(options?.experimentIds)) throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, 'experiment_ids must be a list of experiment ids');
    const experimentIds = options.experimentIds.map(validateExperimentId);
    const maxResults = validateSearchMaxResults(options.maxResults);
    // Active runs only, as MLflow's default view: a deleted experiment's runs are deleted.
    const records = (await this.backend.listRuns([...new Set(experimentIds)])).filter((r) => r.info.lifecycleStage === 'active');
    const runs = await Promise.all(
      records.map(async (r) => toTrackingRun(r, await this.backend.latestMetrics(r.info.runId))),
    );
    return searchTrackingRunList(runs, {
      maxResults,
      ...(options.filter === undefined ? {} : { filter: options.filter }),
      ...(options.orderBy === undefined ? {} : { orderBy: options.orderBy }),
      ...(options.pageToken === undefined ? {} : { pageToken: options.pageToken }),
    });
  }

  async logBatch(runId: string, batch: LogBatchInput): Promise<void> {
    this.checkOpen();
    validateTrackingRunId(runId);
    const { metrics, params, tags } = normaliseBatch(batch, Date.now());
    // Nothing to log is not a request at all, as with MLflow's client.
    if (metrics.length === 0 && params.length === 0 && tags.length === 0) return;
    await this.serialised(async () => {
      const record = await this.activeTrackingRun(runId);
      const conflicts = params.filter((p) => Object.hasOwn(record.params, p.key) && record.params[p.key] !== p.value);
      if (conflicts.length > 0) {
        const logged = conflicts.map((p) => ({ key: p.key, old_value: record.params[p.key], new_value: p.value }));
        throw TributaryError.of(
          Reason.INVALID_PARAMETER_VALUE,
          `Changing param values is not allowed. Params were already logged='${JSON.stringify(logged)}' ` +
            `for run ID='${record.info.runId}'.`,
          { details: { conflicts: logged } },
        );
      }
      let next: TrackingRunRecord | undefined;
      if (params.length > 0 || tags.length > 0) {
        const newTags = Object.fromEntries(tags.map((t) => [t.key, t.value]));
        const nameTag = Object.hasOwn(newTags, RUN_NAME_TAG) ? newTags[RUN_NAME_TAG] : undefined;
        next = {
          info: nameTag === undefined ? record.info : { ...record.info, runName: nameTag },
          params: { ...record.params, ...Object.fromEntries(params.map((p) => [p.key, p.value])) },
          tags: { ...record.tags, ...newTags },
        };
      }
      const latest = await this.newLatest(record.info.runId, metrics);
      await this.backend.write({
        runId: record.info.runId,
        ...(next === undefined ? {} : { record: next }),
        points: metrics,
        latest,
      });
    });
  }

  async getMetricHistory(runId: string, key: string, options: PageOptions = {}): Promise<MetricHistoryPage> {
    this.checkOpen();
    const metricKey = validateMetricKey(key);
    const maxResults = validateHistoryMaxResults(options.maxResults);
    let after: string | undefined;
    if (options.pageToken !== undefined && options.pageToken !== '') {
      const cursor = decodePageToken(options.pageToken)['after'];
      if (typeof cursor !== 'string' || !isMetricPointKey(cursor)) {
        throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, `Invalid page token '${options.pageToken}'`);
      }
      after = cursor;
    }
    const record = await this.trackingRunRecord(runId);
    // One extra point tells whether another page follows.
    const points = await this.backend.history(record.info.runId, metricKey, after, maxResults + 1);
    if (points.length <= maxResults) return { metrics: points };
    const metrics = points.slice(0, maxResults);
    const last = metrics[metrics.length - 1]!;
    return { metrics, nextPageToken: encodePageToken({ after: metricPointKey(last) }) };
  }

  async deleteTag(runId: string, key: string): Promise<void> {
    this.checkOpen();
    const tagKey = validateTagKey(key);
    await this.serialised(async () => {
      const record = await this.activeTrackingRun(runId);
      if (!Object.hasOwn(record.tags, tagKey)) {
        throw TributaryError.of(Reason.RESOURCE_DOES_NOT_EXIST, `No tag with name: ${tagKey} in run with id ${record.info.runId}`);
      }
      const tags = Object.fromEntries(Object.entries(record.tags).filter(([k]) => k !== tagKey));
      await this.backend.write({ runId: record.info.runId, record: { ...record, tags }, points: [], latest: [] });
    });
  }

  private async newLatest(runId: string, metrics: readonly Metric[]): Promise<Metric[]> {
    if (metrics.length === 0) return [];
    const keys = [...new Set(metrics.map((m) => m.key))];
    const latest = new Map((await this.backend.latestMetrics(runId, keys)).map((m) => [m.key, m]));
    const changed = new Map<string, Metric>();
    for (const m of metrics) {
      if (isNewerMetric(m, latest.get(m.key))) {
        latest.set(m.key, m);
        changed.set(m.key, m);
      }
    }
    return [...changed.values()];
  }

  private async trackingRunRecord(runId: string): Promise<TrackingRunRecord> {
    const record = await this.backend.getRun(validateTrackingRunId(runId));
    if (record === undefined) throw TributaryError.of(Reason.RESOURCE_DOES_NOT_EXIST, `Run with id=${runId} not found`);
    return record;
  }

  private async activeTrackingRun(runId: string): Promise<TrackingRunRecord> {
    const record = await this.trackingRunRecord(runId);
    if (record.info.lifecycleStage !== 'active') {
      throw TributaryError.of(
        Reason.INVALID_PARAMETER_VALUE,
        `The run ${runId} must be in the 'active' state. Current state is ${record.info.lifecycleStage}.`,
      );
    }
    return record;
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const done = this.writeTail.then(work, work);
    this.writeTail = done.catch(() => undefined);
    return done;
  }

  private checkOpen(): void {
    if (this.closed) {
      throw TributaryError.of(Reason.TRACKING_STORE_CLOSED, 'the tracking store is closed');
    }
  }
}

function toTrackingRun(record: TrackingRunRecord, latest: readonly Metric[]): TrackingRun {
  return {
    info: { ...record.info },
    data: {
      metrics: Object.fromEntries(latest.map((m) => [m.key, { ...m }])),
      params: Object.fromEntries(Object.entries(record.params)),
      tags: Object.fromEntries(Object.entries(record.tags)),
    },
  };
}
