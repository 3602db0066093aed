import { join } from 'node:path';
import { DEFAULT_AUTH_SKEW_MS, DEFAULT_MAX_NONCES, PUBLIC_KEY_BYTES } from '@tributary/proto';
import type { ConnectionOptions, TlsOptions } from 'nats';
import type { Logger } from 'pino';
import { DEFAULT_SITE_CREDENTIAL_TTL_MS, MAX_SITE_CREDENTIAL_TTL_MS, MIN_SITE_CREDENTIAL_TTL_MS } from './site-credential-ttl.js';
import { silentLogger } from '../observability/logger.js';
import { invalidValue, parseByteSize, parseDuration, parseHostPort, parseInteger, parseNatsServers } from './values.js';

/**
 * Largest size of each data-plane stream, in bytes; past it the oldest messages are dropped
 * (JetStream's default discard policy), so no sender can fill the server's disk.
 */
export interface StreamLimits {
  readonly updatesMaxBytes: number;
  readonly payloadsMaxBytes: number;
  readonly metricsMaxBytes: number;
  /**
   * JetStream replicas of each stream (1 to 5; 3 on a 3-node cluster survives a node loss);
   * undefined: new streams get 1 and existing ones keep theirs.
   */
  readonly replicas?: number;
}

/** Milliseconds, or text with a unit: `'250ms'`, `'30s'`, `'5m'`, `'1h30m'`. */
export type Duration = number | string;
/** Bytes, or text with a unit: `'512MiB'`, `'1GiB'`, `'10MB'`. */
export type ByteSize = number | string;

/** Options of `Coordinator.start`. Everything but `dataDir`, `nats` and `adminKeys` has a default. */
export interface CoordinatorOptions {
  /** Directory for LevelDB state, blobs and staging. Created if missing. */
  dataDir: string;
  /** gRPC listen address. Port 0 picks a free port. @default "127.0.0.1:7400" */
  grpcListen?: string;
  /** NATS server URL(s): an array, or one string of comma-separated URLs. */
  nats: string | string[];
  /** Extra options for the NATS connection (credentials, TLS). */
  natsOptions?: CoordinatorNatsOptions;
  /**
   * The NATS URL(s) sites are told on every task (nats:// or tls://, at most 8, no credentials):
   * a site using other URLs switches to these, so sites follow a NATS that moved. Set it when
   * sites reach NATS at another address than the coordinator does.
   * @default `nats` without any user or password in it
   */
  natsAdvertise?: string | string[];
  /** Raw 32-byte Ed25519 public keys with admin rights (the bootstrap admins). */
  adminKeys: Uint8Array[];
  /** TLS for gRPC: PEM certificate chain and private key files. @default plaintext */
  tls?: { certFile: string; keyFile: string };
  /** Structured logger. @default silent */
  logger?: Logger;
  /** Serve Prometheus metrics on this port; 0 turns metrics off. @default 0 */
  metricsPort?: number;
  /**
   * Serve the read-only web dashboard on this port, on the gRPC listener's host; 0 picks a free
   * port (see `Coordinator.dashboardPort`). @default off
   */
  httpPort?: number;
  /** Third-party strategy modules (paths or package names) to load at start. @default [] */
  strategyPlugins?: string[];
  /** Tracking store URI. @default level://<dataDir>/tracking */
  trackingUri?: string;
  /** Modules registering tracking store schemes, loaded before the store opens. @default [] */
  trackingPlugins?: string[];
  /** First wait before the tracking outbox retries a write the store did not take; doubles after each failure. @default '1s' */
  trackingRetryDelay?: Duration;
  /** Longest wait between tracking outbox retries. @default '30s' */
  trackingRetryMaxDelay?: Duration;
  /** Longest time a graceful stop spends delivering the tracking outbox (the rest waits for the next start). @default '5s' */
  trackingFlushTimeout?: Duration;
  /** Largest accepted clock difference of a signed call. @default '5m' */
  authSkew?: Duration;
  /**
   * Call nonces remembered at most (replay protection within the skew window), in memory and in
   * the data directory; when they are all live, new calls are refused with RATE_LIMITED.
   * @default 1_000_000
   */
  maxNonces?: number;
  /**
   * Call rate limits (token buckets): per peer address, charged before anything else is done
   * for a call, and per key, charged once the signature verified. Beyond them calls get
   * RESOURCE_EXHAUSTED / RATE_LIMITED.
   */
  rateLimits?: {
    /** @default { ratePerSecond: 500, burst: 2000 } */
    perPeer?: { ratePerSecond?: number; burst?: number };
    /** @default { ratePerSecond: 100, burst: 500 } */
    perKey?: { ratePerSecond?: number; burst?: number };
    /** Peers and keys tracked at most each; beyond it, calls of new ones are refused until idle ones age out. @default 100_000 */
    maxTracked?: number;
  };
  /** Largest accepted update payload. @default '1GiB' */
  maxUpdateSize?: ByteSize;
  /** Update bytes an aggregator may hold in memory before spilling to the data directory. @default '1GiB' */
  aggregatorMemory?: ByteSize;
  /**
   * Largest gRPC message the server accepts, on every method (a larger one is refused before it
   * is read; CreateFederation streams its weights in smaller chunks). @default '4MiB'
   */
  maxGrpcMessageSize?: ByteSize;
  /** Update ingest over NATS. */
  ingest?: {
    /** Updates verified at the same time; each holds one decoded update in memory. @default 4 */
    concurrency?: number;
    /** Longest wait for the next payload chunk before refusing with PAYLOAD_MISSING. @default '30s' */
    payloadTimeout?: Duration;
    /**
     * Slowest upload a site may make: an update's payload must be read within
     * `max(minUploadTime, payload_size / minUploadRate)` of its manifest, or it is refused with
     * UPLOAD_TIMEOUT, so a site trickling chunks cannot hold a verification slot for long.
     * Bytes per second, or text such as '1MiB/s'. @default '1MiB/s'
     */
    minUploadRate?: ByteSize;
    /** Shortest upload deadline, whatever the payload's size. @default '60s' */
    minUploadTime?: Duration;
    /**
     * How long stopping waits for the updates being verified; those unfinished by then are
     * handed back to JetStream unjudged, for the next start to verify. @default '10s'
     */
    stopTimeout?: Duration;
  };
  /**
   * Size limits of the data plane's JetStream streams; past one, the stream drops its oldest
   * messages. Applied at every start, also to streams that exist.
   */
  streams?: {
    /** TRIB_UPDATES: signed manifests (about 1 KiB each). @default '256MiB' */
    updatesMaxBytes?: ByteSize;
    /** TRIB_PAYLOADS: update chunks, purged once their update is decided. @default '8GiB' */
    payloadsMaxBytes?: ByteSize;
    /** TRIB_METRICS: signed metric batches. @default '1GiB' */
    metricsMaxBytes?: ByteSize;
    /**
     * Replicas of each stream: 3 on a 3-node NATS cluster, so losing a node loses nothing and
     * ingest goes on (one replica is not highly available). Applied at every start; a single
     * server refuses more than 1. @default new streams get 1, existing streams keep theirs
     */
    replicas?: number;
  };
  /**
   * Aggregation workers (`tributary aggregator`): FedAvg updates are offered to them as fold
   * jobs, and their partials combined at close. Off unless `enabled`: every update is then read
   * and folded by the coordinator itself.
   */
  aggregation?: {
    /** @default false */
    enabled?: boolean;
    /** Wait for a worker's verdict beyond the payload's read deadline, after which the update is folded here. @default '10s' */
    jobTimeout?: Duration;
    /** Wait for a worker's partial manifest at close, after which its updates are re-folded here. @default '10s' */
    collectTimeout?: Duration;
  };
  /** Metric ingest over NATS. */
  metricIngest?: {
    /** Longest time a verified point waits before it is written to the tracking store. @default '100ms' */
    flushInterval?: Duration;
    /** Points written at once, without waiting for the interval. @default 5000 */
    maxBatchPoints?: number;
  };
  /**
   * The audit log in `<dataDir>/audit`: every state-changing call, every denied call and every
   * refused update, hash-chained, its head signed with the coordinator's key.
   */
  audit?: {
    /** A segment is sealed (signed) and a new one started past this size. @default '16MiB' */
    segmentSize?: ByteSize;
    /** Sealed segments older than this are removed. @default '365d' */
    retention?: Duration;
    /** At most this many segments are kept, the oldest sealed ones removed first. @default 256 */
    maxSegments?: number;
    /** A signed head follows every this many entries. @default 1000 */
    headEveryEntries?: number;
    /** ...and at this interval when entries came since the last one (and at shutdown). @default '60s' */
    headInterval?: Duration;
  };
  /** How long `close()` lets calls in progress finish before cancelling them. @default '2s' */
  shutdownGrace?: Duration;
  /**
   * Directory of a NATS authority (written by `tributary nats init`): NATS runs in operator mode,
   * the coordinator connects with the authority's coordinator user (unless `natsOptions` names
   * other credentials), and each site gets its own short-lived NATS user from GetNatsCredentials.
   * @default none (sites bring their own NATS credentials)
   */
  natsAuthority?: string;
  /** Lifetime of a site's NATS credentials (with `natsAuthority`); sites renew at two thirds of it. @default '1h' */
  siteCredentialTtl?: Duration;
}

/**
 * The NATS connection options the coordinator passes on: one kind of credentials (user and
 * password, a token, or an authenticator such as nats.js `credsAuthenticator`) and TLS files.
 */
export type CoordinatorNatsOptions = Pick<ConnectionOptions, 'user' | 'pass' | 'token' | 'authenticator'> & {
  /** PEM files: the CA that signed the server's certificate, and a client certificate and key for mutual TLS. */
  tls?: Pick<TlsOptions, 'caFile' | 'certFile' | 'keyFile'>;
};

/** `CoordinatorOptions`, validated, defaulted and frozen: what every part of the coordinator reads. */
export interface CompiledCoordinatorOptions {
  readonly dataDir: string;
  readonly adminKeys: readonly Uint8Array[];
  readonly logger: Logger;
  /** 0: metrics off. */
  readonly metricsPort: number;
  /** undefined: dashboard off; 0: a free port. */
  readonly httpPort: number | undefined;
  readonly grpc: {
    readonly listen: string;
    readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
    readonly maxReceiveMessageBytes: number;
    readonly keepaliveTimeMs: number;
    readonly shutdownGraceMs: number;
  };
  readonly nats: {
    readonly servers: readonly string[];
    readonly options: Readonly<CoordinatorNatsOptions>;
    /** Told to sites on every task. */
    readonly advertise: readonly string[];
  };
  readonly auth: {
    readonly skewMs: number;
    readonly maxNonces: number;
    readonly rateLimits: {
      readonly perPeer: { readonly ratePerSecond: number; readonly burst: number };
      readonly perKey: { readonly ratePerSecond: number; readonly burst: number };
      readonly maxTracked: number;
    };
  };
  readonly rounds: {
    readonly maxUpdateBytes: number;
    readonly aggregatorMemoryBytes: number;
  };
  readonly ingest: {
    readonly concurrency: number;
    readonly payloadTimeoutMs: number;
    readonly minUploadBytesPerSecond: number;
    readonly minUploadMs: number;
    /** A manifest not acked within this time is redelivered; progress on a long payload read extends it. */
    readonly ackWaitMs: number;
    /** Deliveries an unexpected failure (state store, NATS) gets before the update is refused as INTERNAL. */
    readonly maxDeliveries: number;
    /** Pause before such a redelivery. */
    readonly retryDelayMs: number;
    /** Payload bytes pulled ahead over all readers together (they share one connection): well under nats-server's 64 MB max_pending per connection. */
    readonly pullAheadBytes: number;
    /** Longest wait on stop for the updates being verified. */
    readonly stopTimeoutMs: number;
  };
  readonly streams: StreamLimits;
  /** Absent when aggregation workers are off. */
  readonly aggregation?: {
    readonly jobTimeoutMs: number;
    readonly collectTimeoutMs: number;
  };
  readonly metricIngest: {
    readonly flushIntervalMs: number;
    readonly maxBatchPoints: number;
    /** A batch not settled within this time is redelivered (a flush takes milliseconds). */
    readonly ackWaitMs: number;
    /** Batches delivered and not yet acked. */
    readonly maxAckPending: number;
    /** Bytes pulled ahead; well under nats-server's 64 MB max_pending per connection. */
    readonly pullMaxBytes: number;
    /** More points than this in one batch is not a site streaming metrics (the SDK sends 500). */
    readonly maxPointsPerBatch: number;
    /** Redelivery delay after a failed write: doubles with each delivery up to `retryMaxMs`. */
    readonly retryBaseMs: number;
    readonly retryMaxMs: number;
  };
  readonly tracking: {
    readonly uri: string;
    readonly plugins: readonly string[];
    readonly retryDelayMs: number;
    readonly retryMaxDelayMs: number;
    readonly flushTimeoutMs: number;
  };
  readonly strategyPlugins: readonly string[];
  readonly audit: {
    readonly dir: string;
    readonly segmentBytes: number;
    readonly retentionMs: number;
    readonly maxSegments: number;
    readonly headEveryEntries: number;
    readonly headIntervalMs: number;
  };
  /** Per-site NATS credentials; undefined when NATS authentication is managed elsewhere. */
  readonly natsAuthority:
    | {
        readonly dir: string;
        readonly siteCredentialTtlMs: number;
        /** Unexpired credentials kept per site (a renewal adds one); the oldest are forgotten past it. */
        readonly maxCredentialsPerSite: number;
      }
    | undefined;
}

/** Every default of the coordinator, declared once. */
export const COORDINATOR_DEFAULTS = Object.freeze({
  grpcListen: '127.0.0.1:7400',
  metricsPort: 0,
  maxGrpcMessageBytes: 4 * 2 ** 20,
  grpcKeepaliveTimeMs: 30_000,
  shutdownGraceMs: 2_000,
  authSkewMs: DEFAULT_AUTH_SKEW_MS,
  maxNonces: DEFAULT_MAX_NONCES,
  peerRatePerSecond: 500,
  peerBurst: 2_000,
  keyRatePerSecond: 100,
  keyBurst: 500,
  rateLimitMaxTracked: 100_000,
  maxUpdateBytes: 2 ** 30,
  aggregatorMemoryBytes: 2 ** 30,
  ingestConcurrency: 4,
  payloadTimeoutMs: 30_000,
  minUploadBytesPerSecond: 2 ** 20,
  minUploadMs: 60_000,
  // Short, with in-progress acks every quarter of it while a manifest is processed: a crashed
  // coordinator's deliveries (those the next one cannot hand back) free their slots this soon.
  ingestAckWaitMs: 15_000,
  ingestMaxDeliveries: 5,
  ingestRetryDelayMs: 2_000,
  payloadPullAheadBytes: 16 * 2 ** 20,
  ingestStopTimeoutMs: 10_000,
  aggregationJobTimeoutMs: 10_000,
  aggregationCollectTimeoutMs: 10_000,
  streams: Object.freeze({ updatesMaxBytes: 256 * 2 ** 20, payloadsMaxBytes: 8 * 2 ** 30, metricsMaxBytes: 2 ** 30 }),
  metricFlushIntervalMs: 100,
  metricMaxBatchPoints: 5_000,
  metricAckWaitMs: 30_000,
  // Two write buffers hold at most 2 x maxBatchPoints points, which for the SDK's 500-point
  // batches is a few dozen messages; the bound only matters for clients sending many tiny batches.
  metricMaxAckPending: 20_000,
  metricPullMaxBytes: 4 * 2 ** 20,
  metricMaxPointsPerBatch: 10_000,
  metricRetryBaseMs: 500,
  metricRetryMaxMs: 30_000,
  trackingRetryDelayMs: 1_000,
  trackingRetryMaxDelayMs: 30_000,
  trackingFlushTimeoutMs: 5_000,
  siteCredentialTtlMs: DEFAULT_SITE_CREDENTIAL_TTL_MS,
  maxCredentialsPerSite: 64,
  auditSegmentBytes: 16 * 2 ** 20,
  auditRetentionMs: 365 * 86_400_000,
  auditMaxSegments: 256,
  auditHeadEveryEntries: 1_000,
  auditHeadIntervalMs: 60_000,
});

/** setTimeout's limit. */
const MAX_DURATION_MS = 2_147_483_647;

/**
 * Validates and defaults `CoordinatorOptions` once. Every bad value throws INVALID_ARGUMENT in
 * the one format of configuration errors: `invalid CoordinatorOptions.<name> <value>: <why>`.
 */
export function compileCoordinatorOptions(opts: CoordinatorOptions): CompiledCoordinatorOptions {
  if (typeof opts !== 'object' || opts === null) throw invalidValue('CoordinatorOptions', opts, 'expected an options object');
  const d = COORDINATOR_DEFAULTS;
  const dataDir = text('dataDir', opts.dataDir);
  const ingest = group('ingest', opts.ingest);
  const metricIngest = group('metricIngest', opts.metricIngest);
  const streams = group('streams', opts.streams);
  const audit = group('audit', opts.audit);
  const aggregation = group('aggregation', opts.aggregation);
  return Object.freeze({
    dataDir,
    adminKeys: adminKeys(opts.adminKeys),
    logger: opts.logger ?? silentLogger(),
    metricsPort: opts.metricsPort === undefined ? d.metricsPort : parseInteger(opts.metricsPort, label('metricsPort'), 0, 65_535),
    httpPort: opts.httpPort === undefined ? undefined : parseInteger(opts.httpPort, label('httpPort'), 0, 65_535),
    grpc: Object.freeze({
      listen: opts.grpcListen === undefined ? d.grpcListen : parseHostPort(text('grpcListen', opts.grpcListen), label('grpcListen'), { allowPortZero: true }),
      tls: tlsFiles(opts.tls),
      maxReceiveMessageBytes: byteSize('maxGrpcMessageSize', opts.maxGrpcMessageSize, d.maxGrpcMessageBytes),
      keepaliveTimeMs: d.grpcKeepaliveTimeMs,
      shutdownGraceMs: duration('shutdownGrace', opts.shutdownGrace, d.shutdownGraceMs),
    }),
    nats: Object.freeze({
      servers: Object.freeze(natsServers(opts.nats)),
      options: Object.freeze({ ...opts.natsOptions }),
      advertise: Object.freeze(natsAdvertise(opts)),
    }),
    auth: Object.freeze({
      skewMs: duration('authSkew', opts.authSkew, d.authSkewMs),
      maxNonces: integer('maxNonces', opts.maxNonces, d.maxNonces),
      rateLimits: rateLimits(group('rateLimits', opts.rateLimits)),
    }),
    rounds: Object.freeze({
      maxUpdateBytes: byteSize('maxUpdateSize', opts.maxUpdateSize, d.maxUpdateBytes),
      aggregatorMemoryBytes: byteSize('aggregatorMemory', opts.aggregatorMemory, d.aggregatorMemoryBytes),
    }),
    ingest: Object.freeze({
      concurrency: integer('ingest.concurrency', ingest.concurrency, d.ingestConcurrency, 1_000),
      payloadTimeoutMs: duration('ingest.payloadTimeout', ingest.payloadTimeout, d.payloadTimeoutMs),
      minUploadBytesPerSecond: byteRate('ingest.minUploadRate', ingest.minUploadRate, d.minUploadBytesPerSecond),
      minUploadMs: duration('ingest.minUploadTime', ingest.minUploadTime, d.minUploadMs),
      ackWaitMs: d.ingestAckWaitMs,
      maxDeliveries: d.ingestMaxDeliveries,
      retryDelayMs: d.ingestRetryDelayMs,
      pullAheadBytes: d.payloadPullAheadBytes,
      stopTimeoutMs: duration('ingest.stopTimeout', ingest.stopTimeout, d.ingestStopTimeoutMs),
    }),
    streams: Object.freeze({
      updatesMaxBytes: byteSize('streams.updatesMaxBytes', streams.updatesMaxBytes, d.streams.updatesMaxBytes),
      payloadsMaxBytes: byteSize('streams.payloadsMaxBytes', streams.payloadsMaxBytes, d.streams.payloadsMaxBytes),
      metricsMaxBytes: byteSize('streams.metricsMaxBytes', streams.metricsMaxBytes, d.streams.metricsMaxBytes),
      ...(streams.replicas === undefined ? {} : { replicas: integer('streams.replicas', streams.replicas, 1, 5) }),
    }),
    ...(aggregation.enabled === true
      ? {
          aggregation: Object.freeze({
            jobTimeoutMs: duration('aggregation.jobTimeout', aggregation.jobTimeout, d.aggregationJobTimeoutMs),
            collectTimeoutMs: duration('aggregation.collectTimeout', aggregation.collectTimeout, d.aggregationCollectTimeoutMs),
          }),
        }
      : {}),
    metricIngest: Object.freeze({
      flushIntervalMs: duration('metricIngest.flushInterval', metricIngest.flushInterval, d.metricFlushIntervalMs),
      maxBatchPoints: integer('metricIngest.maxBatchPoints', metricIngest.maxBatchPoints, d.metricMaxBatchPoints),
      ackWaitMs: d.metricAckWaitMs,
      maxAckPending: d.metricMaxAckPending,
      pullMaxBytes: d.metricPullMaxBytes,
      maxPointsPerBatch: d.metricMaxPointsPerBatch,
      retryBaseMs: d.metricRetryBaseMs,
      retryMaxMs: d.metricRetryMaxMs,
    }),
    tracking: Object.freeze({
      uri: opts.trackingUri === undefined ? `level://${join(dataDir, 'tracking')}` : text('trackingUri', opts.trackingUri),
      plugins: Object.freeze(list('trackingPlugins', opts.trackingPlugins)),
      retryDelayMs: duration('trackingRetryDelay', opts.trackingRetryDelay, d.trackingRetryDelayMs),
      retryMaxDelayMs: duration('trackingRetryMaxDelay', opts.trackingRetryMaxDelay, d.trackingRetryMaxDelayMs),
      flushTimeoutMs: duration('trackingFlushTimeout', opts.trackingFlushTimeout, d.trackingFlushTimeoutMs),
    }),
    strategyPlugins: Object.freeze(list('strategyPlugins', opts.strategyPlugins)),
    audit: Object.freeze({
      dir: join(dataDir, 'audit'),
      segmentBytes: byteSize('audit.segmentSize', audit.segmentSize, d.auditSegmentBytes),
      retentionMs: duration('audit.retention', audit.retention, d.auditRetentionMs, Number.MAX_SAFE_INTEGER),
      maxSegments: integer('audit.maxSegments', audit.maxSegments, d.auditMaxSegments, 1_000_000),
      headEveryEntries: integer('audit.headEveryEntries', audit.headEveryEntries, d.auditHeadEveryEntries),
      headIntervalMs: duration('audit.headInterval', audit.headInterval, d.auditHeadIntervalMs),
    }),
    natsAuthority: natsAuthority(opts),
  });
}

function rateLimits(r: NonNullable<CoordinatorOptions['rateLimits']>): CompiledCoordinatorOptions['auth']['rateLimits'] {
  const d = COORDINATOR_DEFAULTS;
  const perPeer = group('rateLimits.perPeer', r.perPeer);
  const perKey = group('rateLimits.perKey', r.perKey);
  return Object.freeze({
    perPeer: Object.freeze({
      ratePerSecond: positive('rateLimits.perPeer.ratePerSecond', perPeer.ratePerSecond, d.peerRatePerSecond),
      burst: integer('rateLimits.perPeer.burst', perPeer.burst, d.peerBurst),
    }),
    perKey: Object.freeze({
      ratePerSecond: positive('rateLimits.perKey.ratePerSecond', perKey.ratePerSecond, d.keyRatePerSecond),
      burst: integer('rateLimits.perKey.burst', perKey.burst, d.keyBurst),
    }),
    maxTracked: integer('rateLimits.maxTracked', r.maxTracked, d.rateLimitMaxTracked),
  });
}

function positive(name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw invalidValue(label(name), v, 'expected a positive number');
  return v;
}

function natsAuthority(opts: CoordinatorOptions): CompiledCoordinatorOptions['natsAuthority'] {
  const d = COORDINATOR_DEFAULTS;
  if (opts.natsAuthority === undefined) {
    if (opts.siteCredentialTtl !== undefined) throw invalidValue(label('siteCredentialTtl'), opts.siteCredentialTtl, 'needs natsAuthority');
    return undefined;
  }
  const ttlMs = duration('siteCredentialTtl', opts.siteCredentialTtl, d.siteCredentialTtlMs);
  if (ttlMs < MIN_SITE_CREDENTIAL_TTL_MS || ttlMs > MAX_SITE_CREDENTIAL_TTL_MS) {
    throw invalidValue(label('siteCredentialTtl'), opts.siteCredentialTtl, `must be from ${MIN_SITE_CREDENTIAL_TTL_MS / 1000} s to ${MAX_SITE_CREDENTIAL_TTL_MS / 3_600_000} h`);
  }
  return Object.freeze({ dir: text('natsAuthority', opts.natsAuthority), siteCredentialTtlMs: ttlMs, maxCredentialsPerSite: d.maxCredentialsPerSite });
}

function label(name: string): string {
  return `CoordinatorOptions.${name}`;
}

function text(name: string, v: unknown): string {
  if (typeof v !== 'string' || v.trim() === '') throw invalidValue(label(name), v, 'expected a non-empty string');
  return v;
}

function list(name: string, v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw invalidValue(label(name), v, 'expected an array of strings');
  return v.map((item, i) => text(`${name}[${i}]`, item));
}

function group<T extends object>(name: string, v: T | undefined): Partial<T> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidValue(label(name), v, 'expected an object');
  return v;
}

function tlsFiles(v: CoordinatorOptions['tls']): CompiledCoordinatorOptions['grpc']['tls'] {
  if (v === undefined) return undefined;
  const files = group('tls', v);
  return Object.freeze({ certFile: text('tls.certFile', files.certFile), keyFile: text('tls.keyFile', files.keyFile) });
}

function natsServers(v: unknown): string[] {
  if (typeof v !== 'string' && !(Array.isArray(v) && v.every((s) => typeof s === 'string'))) {
    throw invalidValue(label('nats'), v, 'expected a NATS URL, or an array of them');
  }
  return parseNatsServers(v, label('nats'));
}

/** Most URLs advertised to sites. */
export const MAX_ADVERTISED_NATS_URLS = 8;

/**
 * What sites are told: the given URLs, checked (nats:// or tls://, no credentials); by default
 * the coordinator's own, less any credentials in them and those of other schemes.
 */
function natsAdvertise(opts: CoordinatorOptions): string[] {
  const given = opts.natsAdvertise;
  if (given === undefined) {
    return natsServers(opts.nats)
      .map((url) => (/^[a-z]+:\/\//.test(url) ? url : `nats://${url}`).replace(/^([a-z]+:\/\/)[^@/]*@/, '$1'))
      .filter((url) => /^(?:nats|tls):\/\//.test(url))
      .slice(0, MAX_ADVERTISED_NATS_URLS);
  }
  if (typeof given !== 'string' && !(Array.isArray(given) && given.every((s) => typeof s === 'string'))) {
    throw invalidValue(label('natsAdvertise'), given, 'expected a NATS URL, or an array of them');
  }
  const urls = parseNatsServers(given, label('natsAdvertise'));
  if (urls.length > MAX_ADVERTISED_NATS_URLS) throw invalidValue(label('natsAdvertise'), given, `expected at most ${MAX_ADVERTISED_NATS_URLS} URLs`);
  for (const url of urls) {
    if (!/^(?:nats|tls):\/\/[^@]+$/.test(url)) throw invalidValue(label('natsAdvertise'), url, 'expected nats://HOST:PORT or tls://HOST:PORT, without credentials: sites are told it');
  }
  return urls;
}

function adminKeys(v: unknown): Uint8Array[] {
  if (!Array.isArray(v) || v.length === 0) throw invalidValue(label('adminKeys'), v, 'expected at least one admin public key');
  return v.map((key: unknown, i) => {
    if (!(key instanceof Uint8Array) || key.length !== PUBLIC_KEY_BYTES) {
      throw invalidValue(label(`adminKeys[${i}]`), key, `expected a raw ${PUBLIC_KEY_BYTES}-byte Ed25519 public key`);
    }
    return key;
  });
}

function integer(name: string, v: unknown, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number') throw invalidValue(label(name), v, `expected a whole number from 1 to ${max}`);
  return parseInteger(v, label(name), 1, max);
}

/** A number is milliseconds; text needs a unit, as a bare `'300'` could mean seconds or milliseconds. */
function duration(name: string, v: unknown, fallback: number, max = MAX_DURATION_MS): number {
  if (v === undefined) return fallback;
  const why = `expected milliseconds (a number), or text with a unit such as '30s'${max === MAX_DURATION_MS ? `, at most ${MAX_DURATION_MS} ms` : ''}`;
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string' && !/^\s*[\d.]+\s*$/.test(v)) ms = parseDuration(v, label(name));
  else throw invalidValue(label(name), v, why);
  if (!Number.isFinite(ms) || ms <= 0 || ms > max) throw invalidValue(label(name), v, why);
  return ms;
}

/** Bytes per second: a number, or a size with an optional `/s` ('1MiB/s'). */
function byteRate(name: string, v: unknown, fallback: number): number {
  return byteSize(name, typeof v === 'string' ? v.replace(/\s*\/\s*s\s*$/, '') : v, fallback);
}

function byteSize(name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' && typeof v !== 'string') throw invalidValue(label(name), v, "expected bytes (a number), or text such as '1GiB'");
  const bytes = parseByteSize(v, label(name));
  if (bytes <= 0) throw invalidValue(label(name), v, 'must be greater than zero');
  return bytes;
}
