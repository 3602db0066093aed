/**
 * Tributary coordinator: runs federated training rounds over gRPC and NATS JetStream.
 *
 * ```ts
 * import { AdminClient, Coordinator, NatsServer } from '@tributary/coordinator';
 * import { generateSigningKey, encodeSafetensors, tensor } from '@tributary/proto';
 *
 * const nats = await NatsServer.start();                       // nats-server from PATH
 * const admin = generateSigningKey('admin');
 * const coordinator = await Coordinator.start({
 *   dataDir: './.tributary', grpcListen: '127.0.0.1:0', nats: nats.url, adminKeys: [admin.publicKey],
 * });
 * const client = new AdminClient({ address: coordinator.address, key: admin });
 * await client.createFederation({
 *   name: 'churn',
 *   settings: { strategy: 'fedavg', rounds: 5, minSites: 2 },
 *   initialModel: encodeSafetensors({ w: tensor('F32', [4], new Float32Array(4)) }),
 * });
 * const run = await client.startRun('churn');
 * await client.waitForRun(run.id);
 * ```
 */

// The public face of @tributary/coordinator, listed by name: anything not here is internal
// and may change in any release.

// The server and its options.
export { Coordinator } from './coordinator.js';
export { compileCoordinatorOptions, COORDINATOR_DEFAULTS } from './config/coordinator-options.js';
export type { ByteSize, CompiledCoordinatorOptions, CoordinatorNatsOptions, CoordinatorOptions, Duration } from './config/coordinator-options.js';

// The typed AdminService client.
export { AdminClient } from './admin-client.js';
export type { AdminClientOptions } from './admin-client.js';

// A local nats-server with JetStream, for development and tests.
export { NATS_SERVER_INSTALL_HINT, NatsServer } from './dev/nats-server.js';
export type { NatsServerOptions, OperatorModeAccess } from './dev/nats-server.js';

// NATS decentralised auth: the operator, the accounts and per-site credentials (`tributary nats init`).
// Aggregation workers: what `tributary aggregator` runs, for programs that embed a worker.
export { AggregationWorker } from './aggregation/worker.js';
export type { AggregationWorkerOptions, AggregationWorkerProgress } from './aggregation/worker.js';
export { aggregatorPermissions } from './nats-auth/permissions.js';

export { NatsAuthority, DEFAULT_SITE_CREDENTIAL_TTL_MS, MAX_SITE_CREDENTIAL_TTL_MS, MIN_SITE_CREDENTIAL_TTL_MS } from './nats-auth/authority.js';
export type { NatsAuthorityOptions, SiteCredentials, SiteCredentialsRequest } from './nats-auth/authority.js';
export { createNatsAuthority } from './nats-auth/authority-setup.js';
export type { NatsAuthorityFiles, NatsAuthoritySetup } from './nats-auth/authority-setup.js';
export { MemorySiteCredentialLedger } from './nats-auth/credential-ledger.js';
export type { IssuedSiteCredential, SiteCredentialLedger } from './nats-auth/credential-ledger.js';

// Configuration as `tributary serve` and the admin commands load it, and the logger.
export { coordinatorOptionsOf, loadServeConfig } from './config/serve-config.js';
export type { LoadServeConfigOptions, ServeConfig, ServeConfigFlags } from './config/serve-config.js';
export { loadClientConfig } from './config/client-config.js';
export type { ClientConfig, LoadClientConfigOptions } from './config/client-config.js';
export { createLogger } from './observability/logger.js';
export type { Logger } from './observability/logger.js';

// Strategy plugins: what a third-party aggregation strategy implements.
export { StrategyRegistry, sampleSites } from './strategies/strategy.js';
export type { AggregateResult, Aggregator, PartialAggregate, RoundContext, SiteConfigContext, SiteUpdate, SlicedSiteUpdate, Strategy } from './strategies/strategy.js';
export type { StrategyPluginModule } from './plugins/strategy-plugins.js';

// Tracking stores: the store interface a plugin implements, the registry and the built-in stores.
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
  SearchExperimentsOptions,
  SearchTrackingRunsOptions,
  TrackingRun,
  TrackingRunData,
  TrackingRunInfo,
  TrackingRunsPage,
  TrackingRunStatus,
  TrackingRunTag,
  TrackingStore,
  UpdateTrackingRunOptions,
} from './tracking/store.js';
export { TrackingStoreRegistry, openTrackingStore, registerTrackingPlugin } from './tracking/registry.js';
export type { TrackingPluginModule, TrackingStoreBuilder } from './tracking/registry.js';
export { LevelTrackingStore } from './tracking/level-store.js';
export { MemoryTrackingStore } from './tracking/memory-store.js';
export { MlflowRestStore } from './tracking/mlflow-rest-store.js';
export type { MlflowRestStoreOptions } from './tracking/mlflow-rest-store.js';
