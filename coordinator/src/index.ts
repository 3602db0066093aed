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
export { Coordinator } from './coordinator.js';
export { compileCoordinatorOptions, COORDINATOR_DEFAULTS } from './config/coordinator-options.js';
export type { ByteSize, CompiledCoordinatorOptions, CoordinatorNatsOptions, CoordinatorOptions, Duration } from './config/coordinator-options.js';
export { NatsServer, NATS_SERVER_INSTALL_HINT, freePort, type NatsServerOptions } from './dev/nats-server.js';
export { CoordinatorMetrics } from './observability/metrics.js';
export { createLogger, silentLogger, type Logger } from './observability/logger.js';
export { RoundEngine, type RoundEngineOptions } from './rounds/engine.js';
export { normaliseSettings, SETTINGS_DEFAULTS } from './rounds/settings.js';
export { RunEventBus, TaskBus, type TaskOffer } from './rounds/events.js';
export type { UpdateAdmission, AdmissionContext, Verdict } from './rounds/admission.js';
export * from './state/index.js';
export * from './strategies/index.js';
export * from './ingest/index.js';
export { AdminClient, type AdminClientOptions } from './admin-client.js';
export { loadServeConfig, type ServeConfig, type LoadServeConfigOptions } from './config/serve-config.js';
export { loadClientConfig, type ClientConfig } from './config/client-config.js';
export { parseDuration, parseByteSize, type LogLevel } from './config/values.js';
export { coordinatorOptionsOf, SERVE_CONFIG_KEYS, type ServeConfigFlags } from './config/serve-config.js';
export { type LoadClientConfigOptions } from './config/client-config.js';
export * from './tracking/index.js';
export * from './plugins/index.js';
