import { setMaxListeners } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { Reason, TributaryError, reflectionDefinition, serviceDefinition, type SigningKey } from '@tributary/proto';
import { connect, credsAuthenticator, ErrorCode, NatsError, type NatsConnection } from 'nats';
import { adminAuthorizer } from './api/admin-access.js';
import { adminService } from './api/admin-service.js';
import { answerUnknownMethods, implement, reasonForTransportRefusals } from './api/call.js';
import { AuditLog, CallAudit } from './audit/index.js';
import { siteService } from './api/site-service.js';
import { ByteBudget, DOWNLOAD_QUEUE_BYTES, SHARED_CHUNKS_KEEP_BYTES } from './api/download-budget.js';
import { SharedModelChunks } from './api/shared-model-chunks.js';
import { CallAuthenticator } from './auth/authenticator.js';
import type { Principal } from './auth/principal.js';
import { PrincipalRegistry } from './auth/principal-registry.js';
import { BucketedNonceStore } from './auth/nonce-store.js';
import { CallRateLimits } from './auth/rate-limits.js';
import { compileCoordinatorOptions, type CompiledCoordinatorOptions, type CoordinatorOptions } from './config/coordinator-options.js';
import { Catalog } from './federations/catalog.js';
import { Dashboard } from './dashboard/index.js';
import { loadCoordinatorKey } from './identity/coordinator-key.js';
import { METRIC_CONSUMER, MetricEventBus, MetricIngest, UPDATE_CONSUMER, UpdateIngest, ensureStreams } from './ingest/index.js';
import { PayloadSweeper } from './ingest/payload-sweeper.js';
import { JetStreamWatch } from './ingest/jetstream-watch.js';
import { DEFAULT_SITE_CREDENTIAL_TTL_MS, NatsAuthority } from './nats-auth/authority.js';
import { SiteNatsCredentials } from './sites/nats-credentials.js';
import { SitePresence } from './sites/presence.js';
import { CoordinatorMetrics } from './observability/metrics.js';
import { RoundEngine } from './rounds/engine.js';
import { AggregationDispatcher } from './aggregation/dispatcher.js';
import { WorkerCredentials } from './aggregation/worker-credentials.js';
import { RunEventBus, TaskBus } from './rounds/events.js';
import { BlobStore, LevelStateStore } from './state/index.js';
import { ensurePrivateDirectory } from './config/private-file.js';
import { RunTracker, TrackingOutbox, TrackingStoreRegistry, type TrackingStore } from './tracking/index.js';
import { loadStrategyPlugin } from './plugins/index.js';
import { builtinStrategies } from './strategies/index.js';

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
      dashboard: Dashboard | undefined;
      tracker: RunTracker;
      trackingOutbox: TrackingOutbox;
      payloadSweeper: PayloadSweeper;
      jetStreamWatch: JetStreamWatch;
      trackingStore: TrackingStore;
      metricIngest: MetricIngest;
      nonces: BucketedNonceStore;
      /** Signs verdicts; its public half is what sites learn from WhoAmI. */
      verdictKey: SigningKey;
      authority: NatsAuthority | undefined;
      audit: AuditLog;
      presence: SitePresence;
    },
  ) {}

  static async start(options: CoordinatorOptions): Promise<Coordinator> {
    const opts = compileCoordinatorOptions(options);
    const logger = opts.logger;
    // The data directory holds sites' updates and the coordinator's state: its user's only.
    for (const dir of [opts.dataDir, ...['staging', 'state', 'blobs', 'scratch'].map((d) => join(opts.dataDir, d))]) await ensurePrivateDirectory(dir);
    const state = new LevelStateStore(join(opts.dataDir, 'state'));
    await state.open().catch((err: unknown) => {
      const locked = (err as { cause?: { code?: unknown } }).cause?.code === 'LEVEL_LOCKED';
      throw locked
        ? TributaryError.of(Reason.DATA_DIR_IN_USE, `data directory ${opts.dataDir} is in use by another coordinator (its LevelDB is locked)`, { cause: err })
        : TributaryError.of(Reason.STATE_STORE_UNAVAILABLE, `cannot open the state store in ${opts.dataDir}: ${TributaryError.from(err).message}`, { cause: err });
    });
    const cleanup: Array<() => Promise<unknown>> = [() => state.close()];
    try {
      // Read or created while the data directory is locked, so two starts cannot race for it.
      const identity = await loadCoordinatorKey(opts.dataDir);
      const verdictKey = identity.key;
      logger.info({ keyId: verdictKey.keyId, created: identity.created }, 'coordinator key loaded');
      const audit = await AuditLog.open({ ...opts.audit, key: verdictKey, logger });
      cleanup.unshift(() => audit.close());
      const blobs = new BlobStore(join(opts.dataDir, 'blobs'), { inline: state.inlineBlobTable() });
      const metrics = new CoordinatorMetrics({ defaultMetrics: true });
      const strategies = builtinStrategies();
      for (const plugin of opts.strategyPlugins) {
        const added = await loadStrategyPlugin(strategies, plugin);
        logger.info({ plugin, strategies: added }, 'strategy plugin loaded');
      }
      const events = new RunEventBus();
      const tasks = new TaskBus();
      // Off by default: without it every update is read and folded here.
      const aggregation =
        opts.aggregation === undefined
          ? undefined
          : new AggregationDispatcher({
              state,
              blobs,
              key: verdictKey,
              metrics,
              logger,
              stagingDir: join(opts.dataDir, 'staging'),
              jobTimeoutMs: opts.aggregation.jobTimeoutMs,
              collectTimeoutMs: opts.aggregation.collectTimeoutMs,
              payloadTimeoutMs: opts.ingest.payloadTimeoutMs,
              minUploadBytesPerSecond: opts.ingest.minUploadBytesPerSecond,
              minUploadMs: opts.ingest.minUploadMs,
              pullAheadBytes: opts.ingest.pullAheadBytes,
            });
      const engine = new RoundEngine({
        ...(aggregation === undefined ? {} : { delegatedFolds: aggregation }),
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
      // Sites' last seen, stored at most once per site per interval and at close.
      const presence = await SitePresence.open({ table: state.siteLastSeenTable(), logger });
      cleanup.unshift(() => presence.close());
      const catalog = new Catalog({ state, blobs, strategies, logger, stagingDir: join(opts.dataDir, 'staging'), maxModelBytes: opts.rounds.maxUpdateBytes });

      const servers = opts.nats.servers.join(',');
      const authoritySettings = opts.natsAuthority;
      const authority = authoritySettings === undefined ? undefined : await loadAuthority(authoritySettings, opts.nats, state);
      if (authority !== undefined) cleanup.unshift(() => authority.close());
      const natsOptions = opts.nats.options;
      const ownCredentials = natsOptions.user !== undefined || natsOptions.token !== undefined || natsOptions.authenticator !== undefined;
      const nc = await connect({
        servers: [...opts.nats.servers],
        name: 'tributary-coordinator',
        maxReconnectAttempts: -1,
        ...(authority !== undefined && !ownCredentials ? { authenticator: credsAuthenticator(await authority.coordinatorCreds()) } : {}),
        ...natsOptions,
      }).catch((err: unknown) => {
        throw natsConnectFailure(err, servers);
      });
      cleanup.unshift(() => nc.close());
      const dataPlane = async (): Promise<void> => ensureStreams(await nc.jetstreamManager(), opts.streams);
      await dataPlane()
        .catch((err: unknown) => {
          throw isJetStreamDisabled(err)
            ? TributaryError.of(Reason.JETSTREAM_UNAVAILABLE, `NATS at ${servers} has no JetStream: start nats-server with -js (or a jetstream {} block in its config)`, { cause: err })
            : TributaryError.of(Reason.NATS_UNAVAILABLE, `cannot set up the JetStream streams: ${TributaryError.from(err).message}`, { code: 'FAILED_PRECONDITION', cause: err });
        });
      if (authority !== undefined) await publishAccount(authority, servers);
      await aggregation?.start(nc, opts.streams.replicas);
      await engine.start();
      cleanup.unshift(() => engine.stop());
      const trackingRegistry = TrackingStoreRegistry.withBuiltins();
      for (const plugin of opts.tracking.plugins) {
        const schemes = await trackingRegistry.loadPlugin(plugin);
        logger.info({ plugin, schemes }, 'tracking plugin loaded');
      }
      const trackingStore = await trackingRegistry.open(opts.tracking.uri);
      cleanup.unshift(() => trackingStore.close());
      const trackingOutbox = await TrackingOutbox.open(join(opts.dataDir, 'tracking-outbox'));
      cleanup.unshift(() => trackingOutbox.close());
      const tracker = new RunTracker({
        store: trackingStore,
        state,
        events,
        logger,
        outbox: trackingOutbox,
        metrics,
        retryDelayMs: opts.tracking.retryDelayMs,
        retryMaxDelayMs: opts.tracking.retryMaxDelayMs,
        flushTimeoutMs: opts.tracking.flushTimeoutMs,
      });
      metrics.addHealthDetail('tracking', () => tracker.health());
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
        consumerName: METRIC_CONSUMER,
        ensureStreams: dataPlane,
        ...opts.metricIngest,
        presence,
      });
      await metricIngest.start();
      cleanup.unshift(() => metricIngest.stop());
      const ingest = new UpdateIngest({
        nc,
        state,
        blobs,
        admission: engine,
        metrics,
        verdictKey,
        stagingDir: join(opts.dataDir, 'staging'),
        logger,
        consumerName: UPDATE_CONSUMER,
        ensureStreams: dataPlane,
        concurrency: opts.ingest.concurrency,
        smallConcurrency: opts.ingest.smallConcurrency,
        smallPayloadBytes: opts.ingest.smallPayloadBytes,
        smallInFlightBytes: opts.ingest.smallInFlightBytes,
        payloadTimeoutMs: opts.ingest.payloadTimeoutMs,
        minUploadBytesPerSecond: opts.ingest.minUploadBytesPerSecond,
        minUploadMs: opts.ingest.minUploadMs,
        ackWaitMs: opts.ingest.ackWaitMs,
        maxDeliveries: opts.ingest.maxDeliveries,
        retryDelayMs: opts.ingest.retryDelayMs,
        pullAheadBytes: opts.ingest.pullAheadBytes,
        stopTimeoutMs: opts.ingest.stopTimeoutMs,
        heldDeliveriesPath: join(opts.dataDir, 'ingest-held.json'),
        audit,
        presence,
        ...(aggregation === undefined ? {} : { delegation: aggregation }),
      });
      await ingest.start();
      cleanup.unshift(() => ingest.stop());
      // Abandoned uploads (no manifest ever came, or a purge after the verdict failed) leave the payload stream.
      const payloadSweeper = new PayloadSweeper({
        jsm: await nc.jetstreamManager(),
        state,
        logger,
        updateConsumer: UPDATE_CONSUMER,
        abandonAfterMs: 2 * opts.ingest.payloadTimeoutMs,
        purgePending: (subject) => ingest.purgePending(subject),
        onSweep: (outcome) => metrics.payloadSweeps.inc({ outcome }),
        ...(aggregation === undefined ? {} : { keeps: (record) => aggregation.keepsPayload(record) }),
      });
      payloadSweeper.start();
      cleanup.unshift(() => payloadSweeper.stop());
      const jetStreamWatch = new JetStreamWatch({ nc, logger });
      metrics.addHealthDetail('jetstream', () => jetStreamWatch.health());
      jetStreamWatch.start();
      cleanup.unshift(() => jetStreamWatch.stop());
      // After a failed state write nothing more may be accepted: the manifests stay in the stream
      // for the restarted coordinator, and health says why.
      state.onFailure((failure) => {
        logger.error({ reason: failure.reason, err: failure.message }, 'state store write failed: no more updates are accepted; restart the coordinator once the disk is fixed');
        metrics.markUnhealthy(failure.reason, failure.message);
        void ingest.stop().catch((err: unknown) => logger.warn({ err: TributaryError.from(err).message }, 'update ingest did not stop cleanly'));
      });

      const shutdown = new AbortController();
      // Every open call listens to it: as many listeners as calls, not a leak.
      setMaxListeners(0, shutdown.signal);
      // Nonces outlive restarts: a call captured just before one stays a replay after it.
      const nonces = BucketedNonceStore.open(join(opts.dataDir, 'call-nonces'), { skewMs: opts.auth.skewMs, maxNonces: opts.auth.maxNonces });
      cleanup.unshift(async () => nonces.close());
      const limits = new CallRateLimits(opts.auth.rateLimits);
      const principals = new PrincipalRegistry({ state, ownerKeys: opts.adminKeys, logger });
      const auth = new CallAuthenticator({ state, principals, skewMs: opts.auth.skewMs, nonces, limits });
      const server = new grpc.Server({
        'grpc.max_receive_message_length': opts.grpc.maxReceiveMessageBytes,
        'grpc.keepalive_time_ms': opts.grpc.keepaliveTimeMs,
        'grpc.keepalive_permit_without_calls': 1,
        interceptors: [reasonForTransportRefusals],
      });
      // Entries name principals and sites as the call's principal does.
      const callAudit = new CallAudit({ log: audit, federationOfRun: async (runId) => (await state.getRun(runId))?.federation });
      const deps = { auth, audit: callAudit, limits, logger, metrics, shutdown: shutdown.signal };
      const natsCredentials =
        authority === undefined || authoritySettings === undefined
          ? undefined
          : new SiteNatsCredentials({ authority, state, ttlMs: authoritySettings.siteCredentialTtlMs, metrics, logger });
      const withNatsCredentials = natsCredentials === undefined ? {} : { natsCredentials };
      // One bound on unsent model bytes for every download, whichever service serves it.
      const downloads = new ByteBudget(DOWNLOAD_QUEUE_BYTES);
      // Downloads of the same model version, by sites or operators, read each chunk once.
      const chunks = new SharedModelChunks(SHARED_CHUNKS_KEEP_BYTES);
      const site = siteService({ downloads, chunks, state, blobs, catalog, engine, tasks, events, metrics, coordinatorKey: verdictKey, natsAdvertise: opts.nats.advertise, presence, ...withNatsCredentials });
      const host = opts.grpc.listen.slice(0, opts.grpc.listen.lastIndexOf(':'));
      const dashboardTls = opts.grpc.tls === undefined ? undefined : { cert: await readFile(opts.grpc.tls.certFile), key: await readFile(opts.grpc.tls.keyFile) };
      const dashboard =
        opts.httpPort === undefined
          ? undefined
          : await Dashboard.start({ host: host.replace(/^\[|\]$/g, ''), port: opts.httpPort, tls: dashboardTls, state, presence, sessionTable: state.dashboardSessionTable(), principals, engine, tracker, events, metricEvents, logger, metrics });
      if (dashboard !== undefined) cleanup.unshift(() => dashboard.close());
      const workerCredentials =
        aggregation === undefined
          ? undefined
          : new WorkerCredentials({ ...(authority === undefined ? {} : { authority }), ttlMs: authoritySettings?.siteCredentialTtlMs ?? DEFAULT_SITE_CREDENTIAL_TTL_MS, coordinatorPublicKey: verdictKey.publicKey, natsUrls: opts.nats.advertise, logger });
      const admin = adminService({
        downloads,
        chunks,
        state,
        blobs,
        catalog,
        engine,
        events,
        tracker,
        metricEvents,
        principals,
        audit: { audit, coordinatorKey: verdictKey.publicKey },
        presence,
        ...withNatsCredentials,
        ...(dashboard === undefined ? {} : { dashboard }),
        ...(workerCredentials === undefined ? {} : { aggregation: workerCredentials }),
      });
      const siteSeen = (p: Principal) => {
        if (p.role === 'site') presence.seen(p.site.name);
      };
      server.addService(serviceDefinition('SiteService'), implement('SiteService', site, { ...deps, authenticated: siteSeen }));
      server.addService(serviceDefinition('AdminService'), implement('AdminService', admin, { ...deps, authorize: adminAuthorizer({ state, logger }) }));
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
        throw TributaryError.of(Reason.LISTEN_FAILED, `cannot listen on ${listen}: ${TributaryError.from(err).message}`, { cause: err });
      });
      const address = `${host}:${port}`;
      const metricsServer = opts.metricsPort ? await metrics.serve(opts.metricsPort) : undefined;
      logger.info({ address, dataDir: opts.dataDir, metricsPort: opts.metricsPort, dashboardPort: dashboard?.port }, 'coordinator listening');
      return new Coordinator(address, opts, metrics, { server, nc, ingest, engine, state, shutdown, metricsServer, dashboard, tracker, trackingOutbox, payloadSweeper, jetStreamWatch, trackingStore, metricIngest, nonces, verdictKey, authority, audit, presence });
    } catch (err) {
      for (const step of cleanup) await step().catch(() => undefined);
      throw err;
    }
  }

  /** The key id of the coordinator's own key, which signs verdicts (sites may pin it). */
  get keyId(): string {
    return this.parts.verdictKey.keyId;
  }

  /** The coordinator's raw 32-byte Ed25519 public key, as WhoAmI returns it. */
  get publicKey(): Uint8Array {
    return Uint8Array.from(this.parts.verdictKey.publicKey);
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  /** Port of the web dashboard, or undefined when it is off. */
  get dashboardPort(): number | undefined {
    return this.parts.dashboard?.port;
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
    await p.dashboard?.close();
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
    await p.payloadSweeper.stop();
    await p.jetStreamWatch.stop();
    await p.metricIngest.stop();
    // Streams and ingests are over: the last-seen times the table lacks go in now.
    await p.presence.close();
    await p.engine.stop();
    await p.tracker.stop();
    await p.trackingStore.close().catch((err: unknown) => logger.warn({ err: TributaryError.from(err).message }, 'tracking store did not close cleanly'));
    // Closing the store ends a delivery still in flight; its entry stays for the next start.
    await p.tracker.settled();
    await p.trackingOutbox.close().catch((err: unknown) => logger.warn({ err: TributaryError.from(err).message }, 'tracking outbox did not close cleanly'));
    await p.nc.drain().catch(() => p.nc.close());
    await p.authority?.close();
    // Last of the writers: calls and refusals are over, and the closing head covers them all.
    await p.audit.close();
    if (p.metricsServer) await new Promise((resolve) => p.metricsServer?.close(resolve));
    await p.state.close();
    p.nonces.close();
    logger.info('coordinator stopped');
  }
}

/** The NATS authority of `natsAuthority`, recording issued site credentials in the state store. */
async function loadAuthority(
  settings: NonNullable<CompiledCoordinatorOptions['natsAuthority']>,
  nats: CompiledCoordinatorOptions['nats'],
  state: LevelStateStore,
): Promise<NatsAuthority> {
  const ledger = state.siteCredentialLedger(settings.maxCredentialsPerSite);
  await ledger.forgetExpired(Date.now());
  const tls = nats.options.tls;
  return NatsAuthority.load({ dir: settings.dir, ledger, servers: nats.servers, ...(tls === undefined ? {} : { tls: { ...tls } }) });
}

/**
 * Pushes the authority's account JWT (with every revocation so far) to the servers at start, so
 * a revocation saved while NATS was unreachable holds before any site reconnects.
 */
async function publishAccount(authority: NatsAuthority, servers: string): Promise<void> {
  try {
    await authority.publishAccount();
  } catch (err) {
    const e = TributaryError.from(err);
    throw TributaryError.of(e.reason, `cannot push the NATS account of ${authority.dir} to ${servers}: ${e.message}`, {
      code: e.code,
      cause: err,
      details: { hint: 'nats-server must run in operator mode with the configuration `tributary nats init` wrote for this authority.' },
    });
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
      : isCertificateError(err)
        ? "nats_tls_ca must be the CA that signed the NATS server's certificate, and the certificate must name the host in nats."
        : undefined;
  return TributaryError.of(refused ? Reason.NATS_AUTH_FAILED : Reason.NATS_UNAVAILABLE, `cannot connect to NATS at ${servers}: ${message}`, {
    cause: err,
    ...(hint === undefined ? {} : { details: { hint } }),
  });
}

/** JetStream's API error codes for "JetStream not enabled" (server) and "... for account". */
const JS_NOT_ENABLED = 10076;
const JS_NOT_ENABLED_FOR_ACCOUNT = 10039;

/**
 * True when the server has no JetStream for us: nats.js reports a JetStream API request nobody
 * answered as `JetStreamNotEnabled`, and a server with JetStream off for the account answers with
 * one of its "not enabled" API error codes.
 */
function isJetStreamDisabled(err: unknown): boolean {
  if (!(err instanceof NatsError)) return false;
  const apiCode = err.api_error?.err_code;
  return err.code === ErrorCode.JetStreamNotEnabled || apiCode === JS_NOT_ENABLED || apiCode === JS_NOT_ENABLED_FOR_ACCOUNT;
}

/** OpenSSL's verification failures as Node reports them in `err.code` (`CERT_HAS_EXPIRED`, `SELF_SIGNED_CERT_IN_CHAIN`, ...). */
const CERTIFICATE_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'HOSTNAME_MISMATCH',
]);

/**
 * True when the server's certificate was not trusted: a Node TLS error (`ERR_TLS_CERT_*`,
 * `CERT_*` or an OpenSSL verification code), itself or as the cause nats.js chained to its error.
 */
function isCertificateError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (code.startsWith('ERR_TLS_CERT') || code.startsWith('CERT_') || CERTIFICATE_CODES.has(code))) return true;
    e = (e as { chainedError?: unknown; cause?: unknown }).chainedError ?? (e as { cause?: unknown }).cause;
  }
  return false;
}
