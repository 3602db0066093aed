/**
 * The tracking store contract, modelled on MLflow's tracking `AbstractStore`: experiments, runs,
 * params, metrics (key, value, timestamp in ms, step), tags, batched logging, metric history and
 * run search. Every store (embedded, in-memory, an MLflow server over REST, or a plugin's)
 * implements it with the same semantics, and fails with a TributaryError whose `reason` is one of
 * the tracking reasons named after MLflow's error codes (`Reason.RESOURCE_DOES_NOT_EXIST`,
 * `RESOURCE_ALREADY_EXISTS`, `INVALID_PARAMETER_VALUE`, `TRACKING_STORE_CLOSED`, ...).
 */

/** MLflow's run states. */
export const TRACKING_RUN_STATUSES = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'] as const;
export type TrackingRunStatus = (typeof TRACKING_RUN_STATUSES)[number];

/** Terminal run states: the run is over. */
export const TERMINAL_TRACKING_RUN_STATUSES: ReadonlySet<TrackingRunStatus> = new Set(['FINISHED', 'FAILED', 'KILLED']);

export type LifecycleStage = 'active' | 'deleted';

/** One point of a metric's history. NaN and ±Infinity are legal values, as in MLflow. */
export interface Metric {
  key: string;
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** A 64-bit integer in MLflow; here a safe integer (rounds use `step = round`). */
  step: number;
}

/** A metric to log; `timestamp` defaults to now and `step` to 0, as in MLflow's `log_metric`. */
export interface MetricInput {
  key: string;
  value: number;
  timestamp?: number;
  step?: number;
}

export interface Param {
  key: string;
  value: string;
}

export interface TrackingRunTag {
  key: string;
  value: string;
}

export interface Experiment {
  experimentId: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: LifecycleStage;
  /** Milliseconds since the epoch, when the store records it. */
  creationTime?: number;
  lastUpdateTime?: number;
  tags: Record<string, string>;
}

export interface TrackingRunInfo {
  runId: string;
  experimentId: string;
  runName: string;
  status: TrackingRunStatus;
  startTime: number;
  /** Set once the run ends. */
  endTime?: number;
  lifecycleStage: LifecycleStage;
  userId?: string;
  artifactUri?: string;
}

export interface TrackingRunData {
  /** The latest point of each metric: highest step, then timestamp, then value (as MLflow). */
  metrics: Record<string, Metric>;
  params: Record<string, string>;
  tags: Record<string, string>;
}

export interface TrackingRun {
  info: TrackingRunInfo;
  data: TrackingRunData;
}

export interface CreateTrackingRunOptions {
  experimentId: string;
  /** Kept in step with the `mlflow.runName` tag; generated when neither is given. */
  runName?: string;
  /** @default Date.now() */
  startTime?: number;
  tags?: Record<string, string>;
  userId?: string;
}

export interface UpdateTrackingRunOptions {
  /** @default the run's current status */
  status?: TrackingRunStatus;
  endTime?: number;
  runName?: string;
}

export interface LogBatchInput {
  metrics?: readonly MetricInput[];
  params?: readonly Param[];
  tags?: readonly TrackingRunTag[];
}

export interface PageOptions {
  maxResults?: number;
  /** The `nextPageToken` of the previous page; opaque. */
  pageToken?: string;
}

export interface SearchExperimentsOptions extends PageOptions {
  /** e.g. `name LIKE 'churn%' and tags.team = 'risk'`. */
  filter?: string;
  /** e.g. `['name ASC']`; default creation time, newest first. */
  orderBy?: readonly string[];
}

export interface SearchTrackingRunsOptions extends PageOptions {
  experimentIds: readonly string[];
  /**
   * MLflow's search syntax: comparisons joined by AND, e.g.
   * `metrics.accuracy > 0.9 and params.strategy = 'fedavg' and attributes.status = 'FINISHED'`.
   */
  filter?: string;
  /** e.g. `['metrics.accuracy DESC', 'attributes.start_time ASC']`; default newest first. */
  orderBy?: readonly string[];
}

export interface ExperimentsPage {
  experiments: Experiment[];
  nextPageToken?: string;
}

export interface TrackingRunsPage {
  runs: TrackingRun[];
  nextPageToken?: string;
}

export interface MetricHistoryPage {
  /** Ordered by step, then timestamp. */
  metrics: Metric[];
  nextPageToken?: string;
}

/** Where runs, params, metrics and tags go. Selected by a tracking URI (see the registry). */
export interface TrackingStore {
  /** Creates an experiment and returns its id; RESOURCE_ALREADY_EXISTS if the name is taken. */
  createExperiment(name: string, tags?: Record<string, string>): Promise<string>;
  getExperiment(experimentId: string): Promise<Experiment>;
  getExperimentByName(name: string): Promise<Experiment>;
  searchExperiments(options?: SearchExperimentsOptions): Promise<ExperimentsPage>;
  /**
   * Marks an active experiment and its runs deleted (lifecycle stage `deleted`), as MLflow's
   * `experiments/delete` does: they stay readable by id and name, take no new runs or writes, and
   * the name stays taken. RESOURCE_DOES_NOT_EXIST for an unknown or already deleted experiment.
   */
  deleteExperiment(experimentId: string): Promise<void>;

  createRun(options: CreateTrackingRunOptions): Promise<TrackingRun>;
  getRun(trackingRunId: string): Promise<TrackingRun>;
  updateRun(trackingRunId: string, update: UpdateTrackingRunOptions): Promise<TrackingRunInfo>;
  searchRuns(options: SearchTrackingRunsOptions): Promise<TrackingRunsPage>;

  /**
   * Logs metrics (appended), params (immutable: the same value again is fine, another value is
   * INVALID_PARAMETER_VALUE) and tags (last write wins). Every entity is checked before anything
   * is written. Any size: the embedded stores write a batch atomically; a store that talks to a
   * server splits it into requests the server accepts, as MLflow's client does, so a failure
   * part-way (a param conflict found by the server) leaves the earlier requests logged.
   * Repeating an identical metric point is a no-op, so a retried batch logs nothing twice.
   */
  logBatch(trackingRunId: string, batch: LogBatchInput): Promise<void>;
  getMetricHistory(trackingRunId: string, key: string, options?: PageOptions): Promise<MetricHistoryPage>;
  deleteTag(trackingRunId: string, key: string): Promise<void>;

  close(): Promise<void>;
}
