import { mkdir, readFile } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { TributaryError, reflectionDefinition, serviceDefinition } from '@tributary/proto';
import { connect, ErrorCode, NatsError, type NatsConnection } from 'nats';
import { adminService } from './api/admin-service.js';
import { answerUnknownMethods, implement } from './api/call.js';
import { siteService } from './api/site-service.js';
import { CallAuthenticator } from './auth/authenticator.js';
import { BucketedNonceStore } from './auth/nonce-store.js';
import { CallRateLimits } from './auth/rate-limits.js';
import { compileCoordinatorOptions, type CompiledCoordinatorOptions, type CoordinatorOptions } from './config/coordinator-options.js';
import { Catalog } from './federations/catalog.js';
import { MetricEventBus, MetricIngest, UPDATE_CONSUMER, UpdateIngest, ensureStreams } from './ingest/index.js';
import { CoordinatorMetrics } from './observability/metrics.js';
import { RoundEngine } from './rounds/engine.js';
import { RunEventBus, TaskBus } from './rounds/events.js';
import { BlobStore, LevelStateStore } from './state/index.js';
import { RunTracker, TrackingStoreRegistry, type TrackingStore } from './tracking/index.js';
import { builtinStrategies, loadStrategyPlugin } from './strategies/index.js';

/**
 * The coordinator: gRPC SiteService and AdminService, the NATS update ingest, the round engine,
 * and the LevelDB state, wired together. `start()` resumes unfinished runs; `close()` stops
 * everything in order.
 */
export class Coordinator {
  private constructor(
    /** host:port the gRPC server is bound to. */
    readonly address: string,
    /** The options it runs with, validated and defaulted. */
    readonly options: CompiledCoordinatorOptions,
    readonly metrics: CoordinatorMetrics,
    private readonly parts: {
      server: grpc.Server;
      nc: NatsConnection;
      ingest: UpdateIngest;
      engine: RoundEngine;
      state: LevelStateStore;
      shutdown: AbortController;
      metricsServer?: HttpServer;
      tracker: RunTracker;
      trackingStore: TrackingStore;
      metricIngest: MetricIngest;
      nonces: BucketedNonceStore;
    },
  ) {}

  static async start(options: CoordinatorOptions): Promise<Coordinator> {
    const opts = compileCoordinatorOptions(options);
    const logger = opts.logger;
    await mkdir(join(opts.dataDir, 'staging'), { recursive: true });
    const state = new LevelStateStore(join(opts.dataDir, 'state'));
    await state.open().catch((err: unknown) => {
      const locked = (err as { cause?: { code?: unknown } }).cause?.code === 'LEVEL_LOCKED';
      throw new TributaryError({
        code: 'FAILED_PRECONDITION',
        reason: locked ? 'DATA_DIR_IN_USE' : 'STATE_STORE_UNAVAILABLE',
        message: locked
          ? `data directory ${opts.dataDir} is in use by another coordinator (its LevelDB is locked)`
          : `cannot open the state store in ${opts.dataDir}: ${TributaryError.from(err).message}`,
        cause: err,
      });
    });
    const cleanup: Array<() => Promise<unknown>> = [() => state.close()];
    try {
      const blobs = new BlobStore(join(opts.dataDir, 'blobs'));
      const metrics = new CoordinatorMetrics({ defaultMetrics: true });
      const strategies = builtinStrategies();
      for (const plugin of opts.strategyPlugins) {
        const added = await loadStrategyPlugin(strategies, plugin);
        logger.info({ plugin, strategies: added }, 'strategy plugin loaded');
      }
      const events = new RunEventBus();
      const tasks = new TaskBus();
      const engine = new RoundEngine({
        state,
        blobs,
        strategies,
        logger,
        metrics,
        events,
        tasks,
        maxUpdateBytes: opts.rounds.maxUpdateBytes,
        aggregatorMemoryBytes: opts.rounds.aggregatorMemoryBytes,
        scratchDir: join(opts.dataDir, 'scratch'),
      });
      const catalog = new Catalog({ state, blobs, strategies, logger, stagingDir: join(opts.dataDir, 'staging'), maxModelBytes: opts.rounds.maxUpdateBytes });

      const servers = opts.nats.servers.join(',');
      const nc = await connect({
        servers: [...opts.nats.servers],
        name: 'tributary-coordinator',
        maxReconnectAttempts: -1,
        ...opts.nats.options,
      }).catch((err: unknown) => {
        throw natsConnectFailure(err, servers);
      });
      cleanup.unshift(() => nc.close());
      await nc
        .jetstreamManager()
        .then((jsm) => ensureStreams(jsm))
        .catch((err: unknown) => {
          const noJetStream = /503|jetstream not enabled/i.test(String((err as Error)?.message ?? err));
          throw new TributaryError({
            code: 'FAILED_PRECONDITION',
            reason: noJetStream ? 'JETSTREAM_UNAVAILABLE' : 'NATS_UNAVAILABLE',
            message: noJetStream
              ? `NATS at ${servers} has no JetStream: start nats-server with -js (or a jetstream {} block in its config)`
              : `cannot set up the JetStream streams: ${TributaryError.from(err).message}`,
            cause: err,
          });
        });
      await engine.start();
      cleanup.unshift(() => engine.stop());
      const trackingRegistry = TrackingStoreRegistry.withBuiltins();
      for (const plugin of opts.tracking.plugins) {
        const schemes = await trackingRegistry.loadPlugin(plugin);
        logger.info({ plugin, schemes }, 'tracking plugin loaded');
      }
      const trackingStore = await trackingRegistry.open(opts.tracking.uri);
      cleanup.unshift(() => trackingStore.close());
      const tracker = new RunTracker({ store: trackingStore, state, events, logger, retryDelayMs: opts.tracking.retryDelayMs });
      await tracker.start();
      cleanup.unshift(() => tracker.stop());
      const metricEvents = new MetricEventBus();
      const metricIngest = new MetricIngest({
        nc,
        state,
        tracker,
        bus: metricEvents,
        metrics,
        logger,
        flushIntervalMs: opts.metricIngest.flushIntervalMs,
        maxBatchPoints: opts.metricIngest.maxBatchPoints,
      });
      await metricIngest.start();
      cleanup.unshift(() => metricIngest.stop());
      const ingest = new UpdateIngest({
        nc,
        state,
        blobs,
        admission: engine,
        metrics,
        stagingDir: join(opts.dataDir, 'staging'),
        logger,
        consumerName: UPDATE_CONSUMER,
        concurrency: opts.ingest.concurrency,
        payloadTimeoutMs: opts.ingest.payloadTimeoutMs,
      });
      await ingest.start();
      cleanup.unshift(() => ingest.stop());

      const shutdown = new AbortController();
      // Nonces outlive restarts: a call captured just before one stays a replay after it.
      const nonces = BucketedNonceStore.open(join(opts.dataDir, 'call-nonces'), { skewMs: opts.auth.skewMs, maxNonces: opts.auth.maxNonces });
      cleanup.unshift(async () => nonces.close());
      const limits = new CallRateLimits(opts.auth.rateLimits);
      const auth = new CallAuthenticator({ state, adminKeys: opts.adminKeys, skewMs: opts.auth.skewMs, nonces, limits });
      const server = new grpc.Server({
        'grpc.max_receive_message_length': opts.grpc.maxReceiveMessageBytes,
        'grpc.keepalive_time_ms': opts.grpc.keepaliveTimeMs,
        'grpc.keepalive_permit_without_calls': 1,
      });
      const deps = { auth, limits, logger, metrics, shutdown: shutdown.signal };
      const site = siteService({ state, blobs, catalog, engine, tasks, metrics });
      const admin = adminService({ state, blobs, catalog, engine, events, tracker, metricEvents });
      server.addService(serviceDefinition('SiteService'), implement('SiteService', site, deps));
      server.addService(serviceDefinition('AdminService'), implement('AdminService', admin, deps));
      // The real descriptor of tributary.proto (snake_case fields, proper map entries), not proto-loader's.
      new ReflectionService(reflectionDefinition() as unknown as ConstructorParameters<typeof ReflectionService>[0]).addToServer(server);
      if (!answerUnknownMethods(server)) logger.warn('unknown methods will be answered without the reason trailer (unexpected grpc-js internals)');
      const tls = opts.grpc.tls;
      const credentials = tls
        ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: await readFile(tls.certFile), private_key: await readFile(tls.keyFile) }])
        : grpc.ServerCredentials.createInsecure();
      const listen = opts.grpc.listen;
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(listen, credentials, (err, p) => (err ? reject(err) : resolve(p))),
      ).catch((err: unknown) => {
        throw new TributaryError({ code: 'UNAVAILABLE', reason: 'LISTEN_FAILED', message: `cannot listen on ${listen}: ${TributaryError.from(err).message}`, cause: err });
      });
      const host = listen.slice(0, listen.lastIndexOf(':'));
      const address = `${host}:${port}`;
      const metricsServer = opts.metricsPort ? await metrics.serve(opts.metricsPort) : undefined;
      logger.info({ address, dataDir: opts.dataDir, metricsPort: opts.metricsPort }, 'coordinator listening');
      return new Coordinator(address, opts, metrics, { server, nc, ingest, engine, state, shutdown, metricsServer, tracker, trackingStore, metricIngest, nonces });
    } catch (err) {
      for (const step of cleanup) await step().catch(() => undefined);
      throw err;
    }
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  /** The run tracker, which logs runs into the tracking store. */
  get tracker(): RunTracker {
    return this.parts.tracker;
  }

  /** Stops accepting calls and updates, ends open streams, and closes NATS and the state store. */
  async close(): Promise<void> {
    const p = this.parts;
    const logger = this.options.logger;
    p.shutdown.abort();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        p.server.forceShutdown();
        resolve();
      }, this.options.grpc.shutdownGraceMs);
      p.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await p.ingest.stop();
    await p.metricIngest.stop();
    await p.engine.stop();
    await p.tracker.stop();
    await p.trackingStore.close().catch((err: unknown) => logger.warn({ err: TributaryError.from(err).message }, 'tracking store did not close cleanly'));
    await p.nc.drain().catch(() => p.nc.close());
    if (p.metricsServer) await new Promise((resolve) => p.metricsServer?.close(resolve));
    await p.state.close();
    p.nonces.close();
    logger.info('coordinator stopped');
  }
}

/** A failed NATS connect, with a hint where the credentials or TLS settings are the likely cause. */
function natsConnectFailure(err: unknown, servers: string): TributaryError {
  const refused = err instanceof NatsError && err.isAuthError();
  const noTls = err instanceof NatsError && err.code === ErrorCode.ServerOptionNotAvailable;
  const message = noTls ? 'the server does not offer TLS' : TributaryError.from(err).message;
  const hint = refused
    ? 'NATS refused the credentials: check nats_user / nats_password, nats_token or nats_creds.'
    : noTls
      ? 'nats_tls_ca, nats_tls_cert and nats_tls_key need a NATS server with TLS: configure TLS there, or remove them.'
      : /certificate/i.test(message)
        ? "nats_tls_ca must be the CA that signed the NATS server's certificate, and the certificate must name the host in nats."
        : undefined;
  return new TributaryError({
    code: refused ? 'PERMISSION_DENIED' : 'UNAVAILABLE',
    reason: refused ? 'NATS_AUTH_FAILED' : 'NATS_UNAVAILABLE',
    message: `cannot connect to NATS at ${servers}: ${message}`,
    cause: err,
    ...(hint === undefined ? {} : { details: { hint } }),
  });
}
