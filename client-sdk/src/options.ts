import { DEFAULT_CHUNK_SIZE, Reason, TributaryError } from '@tributary/proto';
import type { SigningKey } from '@tributary/proto';
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { BackoffPolicy } from './backoff.js';
import { SILENT_LOGGER } from './logging.js';
import type { SiteLogger } from './logging.js';

/** Options of `SiteClient.connect`. */
export interface SiteClientOptions {
  /** `host:port` of the coordinator's gRPC server (or a gRPC target such as `dns:///host:port`). */
  coordinator: string;
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  nats: string | string[];
  /** The site's signing key, or the path of its key file (mode 0600, written by `tributary keygen`). */
  key: SigningKey | string;
  /** gRPC channel credentials. @default insecure */
  credentials?: ChannelCredentials;
  /** Bytes per update payload chunk on NATS; at most DEFAULT_CHUNK_SIZE, which the payload stream accepts. @default DEFAULT_CHUNK_SIZE (960 KiB) */
  chunkSize?: number;
  /** How long `submit` waits for the verdict on NATS before asking the coordinator with GetUpdateStatus. @default 60_000 */
  verdictTimeoutMs?: number;
  /** Logger for connection, task and retry events. @default silent */
  logger?: SiteLogger;
  /**
   * Retries of transient failures (task stream reconnects, model download resumes, NATS
   * publishes): exponential backoff with full jitter.
   * @default { initialDelayMs: 200, maxDelayMs: 10_000, maxAttempts: 8 }
   */
  retry?: { initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
  /** Longest time a `task.log` point waits before its batch is published. @default 1_000 */
  metricsFlushIntervalMs?: number;
}

/** Validated, defaulted, frozen options. */
export interface CompiledSiteClientOptions {
  readonly coordinator: string;
  readonly nats: readonly string[];
  readonly key: SigningKey | string;
  readonly credentials: ChannelCredentials | undefined;
  readonly chunkSize: number;
  readonly verdictTimeoutMs: number;
  readonly logger: SiteLogger;
  /** Backoff of every retry; `maxAttempts` bounds publishes and downloads (stream reconnects never give up). */
  readonly retry: BackoffPolicy & { readonly maxAttempts: number };
  readonly metricsFlushIntervalMs: number;
  /** Points that trigger an immediate metrics flush. */
  readonly metricsMaxBatch: number;
}

export const DEFAULT_VERDICT_TIMEOUT_MS = 60_000;
export const DEFAULT_METRICS_FLUSH_INTERVAL_MS = 1_000;
export const METRICS_MAX_BATCH = 500;
const DEFAULT_RETRY = { initialDelayMs: 200, maxDelayMs: 10_000, maxAttempts: 8 } as const;
/** setTimeout's limit. */
const MAX_DURATION_MS = 2_147_483_647;

/** Validates and defaults `SiteClientOptions` once; every problem is an INVALID_ARGUMENT TributaryError. */
export function compileSiteClientOptions(opts: SiteClientOptions): CompiledSiteClientOptions {
  if (typeof opts !== 'object' || opts === null) invalid('', 'an options object', opts);
  const retryIn = opts.retry ?? {};
  if (typeof retryIn !== 'object' || retryIn === null) invalid('retry', 'an object', retryIn);
  const initialDelayMs = duration('retry.initialDelayMs', retryIn.initialDelayMs, DEFAULT_RETRY.initialDelayMs);
  const maxDelayMs = duration('retry.maxDelayMs', retryIn.maxDelayMs, DEFAULT_RETRY.maxDelayMs);
  if (maxDelayMs < initialDelayMs) {
    invalid('retry.maxDelayMs', `a duration of at least retry.initialDelayMs (${initialDelayMs})`, maxDelayMs);
  }
  const maxAttempts = integer('retry.maxAttempts', retryIn.maxAttempts, DEFAULT_RETRY.maxAttempts, 1, 1_000);

  return Object.freeze({
    coordinator: coordinatorAddress(opts.coordinator),
    nats: Object.freeze(natsServers(opts.nats)),
    key: signingKey(opts.key),
    credentials: credentials(opts.credentials),
    chunkSize: integer('chunkSize', opts.chunkSize, DEFAULT_CHUNK_SIZE, 1, DEFAULT_CHUNK_SIZE),
    verdictTimeoutMs: duration('verdictTimeoutMs', opts.verdictTimeoutMs, DEFAULT_VERDICT_TIMEOUT_MS),
    logger: logger(opts.logger),
    retry: Object.freeze({ initialDelayMs, maxDelayMs, multiplier: 2, maxAttempts }),
    metricsFlushIntervalMs: duration(
      'metricsFlushIntervalMs',
      opts.metricsFlushIntervalMs,
      DEFAULT_METRICS_FLUSH_INTERVAL_MS,
    ),
    metricsMaxBatch: METRICS_MAX_BATCH,
  });
}

/** The one message format of option errors: `invalid SiteClientOptions.<name>: expected <what>, got <value>`. */
function invalid(name: string, expected: string, got: unknown): never {
  const path = name === '' ? 'SiteClientOptions' : `SiteClientOptions.${name}`;
  throw new TributaryError({
    code: 'INVALID_ARGUMENT',
    reason: Reason.INVALID_ARGUMENT,
    message: `invalid ${path}: expected ${expected}, got ${describe(got)}`,
    details: { option: name },
  });
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === undefined || v === null) return String(v);
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return 'an object';
}

const GRPC_SCHEME = /^(?:dns|unix|unix-abstract|ipv4|ipv6|vsock):\S+$/;
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):(\d{1,5})$/;

function coordinatorAddress(v: unknown): string {
  const expected = 'a gRPC address "host:port"';
  if (typeof v !== 'string') invalid('coordinator', expected, v);
  const s = v.trim();
  if (GRPC_SCHEME.test(s)) return s;
  const m = HOST_PORT.exec(s);
  const port = m?.[1] === undefined ? NaN : Number(m[1]);
  if (!(port >= 1 && port <= 65_535)) invalid('coordinator', expected, v);
  return s;
}

const NATS_URL = /^(?:(?:nats|tls|ws|wss):\/\/)?[^\s/]+(?::\d{1,5})?\/?$/;

function natsServers(v: unknown): string[] {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) {
    invalid('nats', 'a NATS URL or a non-empty array of them', v);
  }
  return list.map((s: unknown, i) => {
    const name = typeof v === 'string' ? 'nats' : `nats[${i}]`;
    if (typeof s !== 'string' || !NATS_URL.test(s.trim())) {
      invalid(name, 'a NATS URL such as "nats://127.0.0.1:4222"', s);
    }
    return s.trim();
  });
}

function signingKey(v: unknown): SigningKey | string {
  const expected = 'a SigningKey or the path of a key file';
  if (typeof v === 'string') {
    if (v.trim() === '') invalid('key', expected, v);
    return v;
  }
  if (typeof v !== 'object' || v === null) invalid('key', expected, v);
  const k = v as Partial<Record<keyof SigningKey, unknown>>;
  if (
    typeof k.name !== 'string' ||
    typeof k.keyId !== 'string' ||
    !(k.publicKey instanceof Uint8Array) ||
    k.publicKey.length !== 32 ||
    !(k.secretKey instanceof Uint8Array) ||
    k.secretKey.length !== 64
  ) {
    invalid('key', `${expected} (name, keyId, 32-byte publicKey, 64-byte secretKey)`, v);
  }
  return v as SigningKey;
}

function credentials(v: unknown): ChannelCredentials | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null) invalid('credentials', 'gRPC ChannelCredentials', v);
  return v as ChannelCredentials;
}

function logger(v: unknown): SiteLogger {
  if (v === undefined) return SILENT_LOGGER;
  const l = v as Partial<Record<keyof SiteLogger, unknown>> | null;
  if (
    typeof l !== 'object' ||
    l === null ||
    typeof l.info !== 'function' ||
    typeof l.warn !== 'function' ||
    typeof l.debug !== 'function'
  ) {
    invalid('logger', 'an object with info, warn and debug methods (a pino logger fits)', v);
  }
  return v as SiteLogger;
}

function integer(name: string, v: unknown, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    invalid(name, `an integer from ${min} to ${max}`, v);
  }
  return v;
}

function duration(name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > MAX_DURATION_MS) {
    invalid(name, `a duration in ms, above 0 and at most ${MAX_DURATION_MS}`, v);
  }
  return v;
}
