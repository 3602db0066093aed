export type {
  CreateTrackingRunOptions,
  Experiment,
  ExperimentsPage,
  LifecycleStage,
  LogBatchInput,
  Metric,
  MetricHistoryPage,
  MetricInput,
  PageOptions,
  Param,
  TrackingRun,
  TrackingRunData,
  TrackingRunInfo,
  TrackingRunStatus,
  TrackingRunTag,
  TrackingRunsPage,
  SearchExperimentsOptions,
  SearchTrackingRunsOptions,
  TrackingStore,
  UpdateTrackingRunOptions,
} from './store.js';
export { TRACKING_RUN_STATUSES, TERMINAL_TRACKING_RUN_STATUSES } from './store.js';
export { isResourceAlreadyExists, isResourceDoesNotExist, reasonOfMlflowError } from './errors.js';
export { TrackingLimits, RUN_NAME_TAG } from './validation.js';
export {
  parseTrackingRunFilter,
  parseTrackingRunOrderBy,
  parseExperimentFilter,
  parseExperimentOrderBy,
  searchTrackingRunList,
  searchExperimentList,
  type SearchClause,
  type OrderClause,
  type Comparator,
  type SearchEntity,
} from './search.js';
export { MemoryTrackingStore } from './memory-store.js';
export { LevelTrackingStore } from './level-store.js';
export { MlflowRestStore, MLFLOW_API_PREFIX, type MlflowRestStoreOptions } from './mlflow-rest-store.js';
export {
  TrackingStoreRegistry,
  defaultTrackingStoreRegistry,
  levelPathOf,
  openTrackingStore,
  registerTrackingPlugin,
  type TrackingPluginModule,
  type TrackingStoreBuilder,
} from './registry.js';
export { RunTracker, RUN_ID_TAG, type RunTrackerOptions, type TrackingHealth } from './run-tracker.js';
export { TrackingOutbox, type OutboxEntry, type OutboxWrite, type OutboxCursor, type RefusedWrite } from './outbox.js';
