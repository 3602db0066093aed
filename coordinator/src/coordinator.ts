import { mkdir, readFile } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { TributaryError, packageDefinition, serviceDefinition } from '@tributary/proto';
import { connect, ErrorCode, NatsError, type ConnectionOptions, type NatsConnection, type TlsOptions } from 'nats';
import type { Logger } from 'pino';
import { adminService } from './api/admin-service.js';
import { implement } from './api/call.js';
import { siteService } from './api/site-service.js';
import { CallAuthenticator } from './auth/authenticator.js';
import { NonceJournal } from './auth/nonce-journal.js';
import { Catalog } from './federations/catalog.js';
import { MetricEventBus, MetricIngest, UpdateIngest, ensureStreams } from './ingest/index.js';
import { silentLogger } from './observability/logger.js';
import { CoordinatorMetrics } from './observability/metrics.js';
import { RoundEngine } from './rounds/engine.js';
import { RunEventBus, TaskBus } from './rounds/events.js';
import { BlobStore, LevelStateStore } from './state/index.js';
import { RunTracker, TrackingStoreRegistry, type TrackingStore } from './tracking/index.js';
import { builtinStrategies, loadStrategyPlugin } from './strategies/index.js';

export interface CoordinatorOptions {
  /** Directory for LevelDB state, blobs and staging. Created if missing. */
  dataDir: string;
  /** gRPC listen address. Port 0 picks a free port. @default "127.0.0.1:7400" */
  grpcListen?: string;
  /** NATS server URL(s). */
  nats: string | string[];
  /** Raw 32-byte Ed25519 public keys with admin rights (the bootstrap admins). */
  adminKeys: Uint8Array[];
  /** Structured logger. @default silent */
  logger?: Logger;
  /** Serve Prometheus metrics on this port (0 or absent: off). */
  metricsPort?: number;
  /** Call-signature clock skew window in ms. @default 300000 */
  authSkewMs?: number;
  /** Largest accepted update payload in bytes. @default 1 GiB */
  maxUpdateBytes?: number;
  /** TLS for gRPC: PEM certificate chain and private key files. */
  tls?: { certFile: string; keyFile: string };
  /** Third-party strategy modules (paths or package names) to load at start. */
  strategyPlugins?: string[];
  /** Tracking store URI. @default level://<dataDir>/tracking */
  trackingUri?: string;
  /** Modules registering tracking store schemes, loaded before the store opens. */
  trackingPlugins?: string[];
  /** Extra options for the NATS connection (credentials, TLS). */
  natsOptions?: CoordinatorNatsOptions;
}

/**
 * The NATS connection options the coordinator passes on: one kind of credentials (user and
 * password, a token, or an authenticator such as nats.js `credsAuthenticator`) and TLS files.
 */
export type CoordinatorNatsOptions = Pick<ConnectionOptions, 'user' | 'pass' | 'token' | 'authenticator'> & {
  /** PEM files: the CA that signed the server's certificate, and a client certificate and key for mutual TLS. */
  tls?: Pick<TlsOptions, 'caFile' | 'certFile' | 'keyFile'>;
};

/** Largest gRPC message the server accepts (CreateFederation carries the initial weights). */
const MAX_GRPC_MESSAGE_BYTES = 256 * 1024 * 1024;

/**
 * The coordinator: gRPC SiteService and AdminService, the NATS update ingest, the round engine,
 * and the LevelDB state, wired together. `start()` resumes unfinished runs; `close()` stops
 * everything in order.
 */
export class Coordinator {
  private constructor(
    /** host:port the gRPC server is bound to. */
    readonly address: string,
    readonly dataDir: string,
    readonly metrics: CoordinatorMetrics,
    private readonly parts: {
      server: grpc.Server;
      nc: NatsConnection;
      ingest: UpdateIngest;
      engine: RoundEngine;
      state: LevelStateStore;
      shutdown: AbortController;
      metricsServer?: HttpServer;
      logger: Logger;
      tracker: RunTracker;
      trackingStore: TrackingStore;
      metricIngest: MetricIngest;
      nonceJournal: NonceJournal;
    },
  ) {}

  static async start(opts: CoordinatorOptions): Promise<Coordinator> {
    const logger = opts.logger ?? silentLogger();
    if (opts.adminKeys.length === 0) {
      throw new TributaryError({ code: 'INVALID_ARGUMENT', reason: 'INVALID_ARGUMENT', message: 'at least one admin public key is required' });
    }
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
      for (const plugin of opts.strategyPlugins ?? []) {
        const added = await loadStrategyPlugin(strategies, plugin);
        logger.info({ plugin, strategies: added }, 'strategy plugin loaded');
      }
      const events = new RunEventBus();
      const tasks = new TaskBus();
      const maxUpdateBytes = opts.maxUpdateBytes ?? 1024 ** 3;
      const engine = new RoundEngine({ state, blobs, strategies, logger, metrics, events, tasks, maxUpdateBytes, scratchDir: join(opts.dataDir, 'scratch') });
      const catalog = new Catalog({ state, blobs, strategies, logger });

      const nc = await connect({
        servers: Array.isArray(opts.nats) ? opts.nats : opts.nats.split(',').map((s) => s.trim()),
        name: 'tributary-coordinator',
        maxReconnectAttempts: -1,
        ...opts.natsOptions,
      }).catch((err: unknown) => {
        throw natsConnectFailure(err, String(opts.nats));
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
              ? `NATS at ${String(opts.nats)} has no JetStream: start nats-server with -js (or a jetstream {} block in its config)`
              : `cannot set up the JetStream streams: ${TributaryError.from(err).message}`,
            cause: err,
          });
        });
      await engine.start();
      cleanup.unshift(() => engine.stop());
      const trackingRegistry = TrackingStoreRegistry.withBuiltins();
      for (const plugin of opts.trackingPlugins ?? []) {
        const schemes = await trackingRegistry.loadPlugin(plugin);
        logger.info({ plugin, schemes }, 'tracking plugin loaded');
      }
      const trackingUri = opts.trackingUri ?? `level://${join(opts.dataDir, 'tracking')}`;
      const trackingStore = await trackingRegistry.open(trackingUri);
      cleanup.unshift(() => trackingStore.close());
      const tracker = new RunTracker({ store: trackingStore, state, events, logger });
      await tracker.start();
      cleanup.unshift(() => tracker.stop());
      const metricEvents = new MetricEventBus();
      const metricIngest = new MetricIngest({ nc, state, tracker, bus: metricEvents, metrics, logger });
      await metricIngest.start();
      cleanup.unshift(() => metricIngest.stop());
      const ingest = new UpdateIngest({ nc, state, admission: engine, stagingDir: join(opts.dataDir, 'staging'), logger });
      await ingest.start();
      cleanup.unshift(() => ingest.stop());

      const shutdown = new AbortController();
      // Nonces outlive restarts: a call captured just before one stays a replay after it.
      const nonces = NonceJournal.open(join(opts.dataDir, 'call-nonces.log'));
      cleanup.unshift(async () => nonces.journal.close());
      const auth = new CallAuthenticator({ state, adminKeys: opts.adminKeys, skewMs: opts.authSkewMs, journal: nonces.journal, remembered: nonces.live });
      const server = new grpc.Server({
        'grpc.max_receive_message_length': MAX_GRPC_MESSAGE_BYTES,
        'grpc.keepalive_time_ms': 30_000,
        'grpc.keepalive_permit_without_calls': 1,
      });
      const deps = { auth, logger, metrics, shutdown: shutdown.signal };
      const site = siteService({ state, blobs, catalog, engine, tasks, metrics });
      const admin = adminService({ state, blobs, catalog, engine, events, tracker, metricEvents });
      server.addService(serviceDefinition('SiteService'), implement('SiteService', site, deps));
      server.addService(serviceDefinition('AdminService'), implement('AdminService', admin, deps));
      new ReflectionService(packageDefinition()).addToServer(server);
      const credentials = opts.tls
        ? grpc.ServerCredentials.createSsl(null, [
            { cert_chain: await readFile(opts.tls.certFile), private_key: await readFile(opts.tls.keyFile) },
          ])
        : grpc.ServerCredentials.createInsecure();
      const listen = opts.grpcListen ?? '127.0.0.1:7400';
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(listen, credentials, (err, p) => (err ? reject(err) : resolve(p))),
      ).catch((err: unknown) => {
        throw new TributaryError({ code: 'UNAVAILABLE', reason: 'LISTEN_FAILED', message: `cannot listen on ${listen}: ${TributaryError.from(err).message}`, cause: err });
      });
      const host = listen.slice(0, listen.lastIndexOf(':'));
      const address = `${host}:${port}`;
      const metricsServer = opts.metricsPort ? await metrics.serve(opts.metricsPort) : undefined;
      logger.info({ address, dataDir: opts.dataDir, metricsPort: opts.metricsPort ?? 0 }, 'coordinator listening');
      return new Coordinator(address, opts.dataDir, metrics, { server, nc, ingest, engine, state, shutdown, metricsServer, logger, tracker, trackingStore, metricIngest, nonceJournal: nonces.journal });
    } catch (err) {
      for (const step of cleanup) await step().catch(() => undefined);
      throw err;
    }
  }

  /** The run tracker, which logs runs into the tracking store. */
  get tracker(): RunTracker {
    return this.parts.tracker;
  }

  /** Stops accepting calls and updates, ends open streams, and closes NATS and the state store. */
  async close(): Promise<void> {
    const p = this.parts;
    p.shutdown.abort();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        p.server.forceShutdown();
        resolve();
      }, 2000);
      p.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await p.ingest.stop();
    await p.metricIngest.stop();
    await p.engine.stop();
    await p.tracker.stop();
    await p.trackingStore.close().catch((err: unknown) => p.logger.warn({ err: TributaryError.from(err).message }, 'tracking store did not close cleanly'));
    await p.nc.drain().catch(() => p.nc.close());
    if (p.metricsServer) await new Promise((resolve) => p.metricsServer?.close(resolve));
    await p.state.close();
    p.nonceJournal.close();
    p.logger.info('coordinator stopped');
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
