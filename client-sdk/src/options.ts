import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { signBytesNative, DEFAULT_BACKOFF_POLICY, DEFAULT_CHUNK_SIZE, PUBLIC_KEY_BYTES, Reason, SECRET_KEY_BYTES, TributaryError, parseDurationText, parsePublicKey, tlsChannelCredentials } from '@tributary/proto';
import type { BackoffPolicy, DurationUnit, Signer, SigningKey } from '@tributary/proto';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { SILENT_LOGGER } from './logging.js';
import type { SiteLogger } from './logging.js';

/** Options of `SiteClient.connect`. */
export interface SiteClientOptions {
  /** `host:port` of the coordinator's gRPC server (or a gRPC target such as `dns:///host:port`). */
  coordinator: string;
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  nats: string | string[];
  /** The site's signing key, or the path of its key file (mode 0600, written by `tributary-site keygen`). */
  key: SigningKey | string;
  /** gRPC channel credentials; or give `tls`. @default insecure */
  credentials?: ChannelCredentials;
  /**
   * TLS to the coordinator from PEM files, instead of `credentials`: the CA that signed its
   * certificate (`tributary tls init` writes `ca.pem`; the system's CAs when absent), and a client
   * certificate and key for mutual TLS (both or neither). The coordinator may be named by host
   * name or IP address; its certificate must name it (a DNS or an IP SAN).
   */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /**
   * Pins the coordinator's verdict key: its raw 32-byte Ed25519 public key, or that key in base64
   * (as `tributary dev` / `serve` data directories store it in `coordinator.key`). `connect` then
   * fails with COORDINATOR_KEY_MISMATCH when the coordinator presents another key.
   * @default the key WhoAmI returns at connect (trusted on first use)
   */
  coordinatorKey?: Uint8Array | string;
  /**
   * Credentials and TLS for NATS: at most one of `token`, `user` with `pass`, or `credsFile`.
   * Without `tls`, the connection uses TLS only when the server asks for it, trusting the
   * system's CAs. Files must be readable when `connect` is called. Leave the credentials out
   * when the coordinator issues NATS users (its WhoAmI says so): the client then makes its own
   * nkey, gets a short-lived JWT with GetNatsCredentials and renews it by itself.
   * @default none
   */
  natsAuth?: {
    user?: string;
    pass?: string;
    token?: string;
    /** Path of a NATS `.creds` file (user JWT and NKEY seed). */
    credsFile?: string;
    /** PEM files: the CA that signed the server's certificate; a client certificate and key for mutual TLS (both or neither). */
    tls?: { caFile?: string; certFile?: string; keyFile?: string };
  };
  /** Bytes per update payload chunk on NATS; at most DEFAULT_CHUNK_SIZE, which the payload stream accepts. @default DEFAULT_CHUNK_SIZE (960 KiB) */
  chunkSize?: number;
  /** How long `submit` waits for the verdict on NATS before asking the coordinator with GetUpdateStatus. @default 60_000 */
  verdictTimeoutMs?: number;
  /** Logger for connection, task and retry events. @default silent */
  logger?: SiteLogger;
  /**
   * Retries of transient failures (NATS publishes of update chunks and manifests, model
   * download resumes, credential renewals, task stream reconnects): exponential backoff with
   * full jitter, unlimited unless bounded here. Every retry also stops when the call's
   * AbortSignal aborts, and an upload stops with DEADLINE_PASSED once its round's deadline
   * would pass before the next attempt. Refusals (PERMISSION_DENIED, KEY_REVOKED, ...) are
   * never retried.
   * @default { initialDelayMs: 200, maxDelayMs: 10_000 } and no limit on retries or their time
   */
  retry?: SiteRetryOptions;
  /** Longest time a `task.log` point waits before its batch is published. @default 1_000 */
  metricsFlushIntervalMs?: number;
  /**
   * Heartbeats to the coordinator while a task is trained and its update uploaded, every
   * `heartbeat_interval_seconds` of the task, so a long local training is not taken for a dead
   * site (`site_idle_timeout_seconds`). @default true
   */
  heartbeats?: boolean;
  /** Caps the rate of update payload uploads, for sites on a link they share. @default unlimited */
  uploadBytesPerSecond?: number;
  /**
   * How update manifests, metric batches and calls to the coordinator are signed:
   * `signBytesNative` (node:crypto, about 37,000 signatures/s) or `signBytes` (tweetnacl, about
   * 210/s). Both give the same bytes; tweetnacl's pure-JS signature took a visible share of a
   * round's time on a busy site (once per manifest and per call, heartbeats included).
   * @default signBytesNative
   */
  signer?: Signer;
}

/** `SiteClientOptions.retry`. */
export interface SiteRetryOptions {
  /** Ceiling of the first delay, in ms. @default 200 */
  initialDelayMs?: number;
  /** Largest delay ceiling, in ms. @default 10_000 */
  maxDelayMs?: number;
  /** Retries of one operation (after its first attempt) before its last error is thrown. @default unlimited */
  maxRetries?: number;
  /**
   * Total time one operation may spend retrying, as ms or a duration such as `'90s'`, `'5m'`,
   * `'1h'`: no retry starts that would begin later. @default unlimited
   */
  maxWait?: number | string;
  /** @deprecated attempts in all, the first included: `maxRetries + 1`. Give `maxRetries` instead. */
  maxAttempts?: number;
}

/** Validated, defaulted, frozen options. */
export interface CompiledSiteClientOptions {
  readonly coordinator: string;
  readonly nats: readonly string[];
  readonly key: SigningKey | string;
  readonly credentials: ChannelCredentials | undefined;
  /** The pinned coordinator key (raw 32 bytes), if any. */
  readonly coordinatorKey: Uint8Array | undefined;
  readonly natsAuth: CompiledNatsAuth | undefined;
  readonly chunkSize: number;
  readonly verdictTimeoutMs: number;
  readonly logger: SiteLogger;
  /** Backoff of every retry; `maxAttempts` (`maxRetries + 1`) and `maxElapsedMs` (`maxWait`) are Infinity unless given. */
  readonly retry: BackoffPolicy & { readonly maxAttempts: number; readonly maxElapsedMs: number };
  readonly metricsFlushIntervalMs: number;
  /** Points that trigger an immediate metrics flush. */
  readonly metricsMaxBatch: number;
  readonly heartbeats: boolean;
  /** 0: unlimited. */
  readonly uploadBytesPerSecond: number;
  readonly signer: Signer;
}

/** `SiteClientOptions.natsAuth`, checked: one kind of credentials at most, readable files. */
export interface CompiledNatsAuth {
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  readonly credsFile?: string;
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
}

export const DEFAULT_VERDICT_TIMEOUT_MS = 60_000;
export const DEFAULT_METRICS_FLUSH_INTERVAL_MS = 1_000;
export const METRICS_MAX_BATCH = 500;
const DEFAULT_RETRY = DEFAULT_BACKOFF_POLICY;
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
  const maxAttempts = retryAttempts(retryIn);
  const maxElapsedMs = retryIn.maxWait === undefined ? Infinity : waitDuration('retry.maxWait', retryIn.maxWait);

  return Object.freeze({
    coordinator: coordinatorAddress(opts.coordinator),
    nats: Object.freeze(natsServers(opts.nats)),
    key: signingKey(opts.key),
    credentials: channelCredentials(opts.credentials, opts.tls),
    coordinatorKey: coordinatorKey(opts.coordinatorKey),
    natsAuth: natsAuth(opts.natsAuth),
    chunkSize: integer('chunkSize', opts.chunkSize, DEFAULT_CHUNK_SIZE, 1, DEFAULT_CHUNK_SIZE),
    verdictTimeoutMs: duration('verdictTimeoutMs', opts.verdictTimeoutMs, DEFAULT_VERDICT_TIMEOUT_MS),
    logger: logger(opts.logger),
    retry: Object.freeze({ initialDelayMs, maxDelayMs, multiplier: 2, maxAttempts, maxElapsedMs }),
    metricsFlushIntervalMs: duration(
      'metricsFlushIntervalMs',
      opts.metricsFlushIntervalMs,
      DEFAULT_METRICS_FLUSH_INTERVAL_MS,
    ),
    metricsMaxBatch: METRICS_MAX_BATCH,
    heartbeats: flag('heartbeats', opts.heartbeats, true),
    uploadBytesPerSecond: integer('uploadBytesPerSecond', opts.uploadBytesPerSecond, 0, 1, Number.MAX_SAFE_INTEGER),
    signer: opts.signer === undefined ? signBytesNative : typeof opts.signer === 'function' ? opts.signer : invalid('signer', 'a function such as signBytes or signBytesNative', opts.signer),
  });
}

/**
 * The one message format of option errors: `invalid SiteClientOptions.<name>: expected <what>, got <value>`.
 * `shown` replaces the value where it may be a secret.
 */
function invalid(name: string, expected: string, got: unknown, shown = describe(got)): never {
  const path = name === '' ? 'SiteClientOptions' : `SiteClientOptions.${name}`;
  throw TributaryError.of(Reason.INVALID_ARGUMENT, `invalid ${path}: expected ${expected}, got ${shown}`, { details: { option: name } });
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
    k.publicKey.length !== PUBLIC_KEY_BYTES ||
    !(k.secretKey instanceof Uint8Array) ||
    k.secretKey.length !== SECRET_KEY_BYTES
  ) {
    invalid('key', `${expected} (name, keyId, 32-byte publicKey, 64-byte secretKey)`, v);
  }
  return v as SigningKey;
}

function coordinatorKey(v: unknown): Uint8Array | undefined {
  if (v === undefined) return undefined;
  const expected = `the coordinator's Ed25519 public key: ${PUBLIC_KEY_BYTES} raw bytes or their base64`;
  if (v instanceof Uint8Array) {
    if (v.length !== PUBLIC_KEY_BYTES) invalid('coordinatorKey', expected, v, `${v.length} bytes`);
    return Uint8Array.from(v);
  }
  if (typeof v !== 'string') invalid('coordinatorKey', expected, v);
  try {
    return parsePublicKey(v.trim());
  } catch {
    return invalid('coordinatorKey', expected, v);
  }
}

function credentials(v: unknown): ChannelCredentials | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null) invalid('credentials', 'gRPC ChannelCredentials', v);
  return v as ChannelCredentials;
}

/** `credentials` as given, or TLS credentials made from the `tls` files; not both. */
export function channelCredentials(given: unknown, tls: unknown): ChannelCredentials | undefined {
  const explicit = credentials(given);
  const files = tlsFiles('tls', tls);
  if (files === undefined) return explicit;
  if (explicit !== undefined) invalid('tls', 'either tls or credentials, not both', tls, 'tls files together with credentials');
  const read = (path: string | undefined): Buffer | null => (path === undefined ? null : readFileSync(path));
  return tlsChannelCredentials({ ca: read(files.caFile), key: read(files.keyFile), cert: read(files.certFile) });
}

const NATS_AUTH_KEYS = ['user', 'pass', 'token', 'credsFile', 'tls'] as const;
const TLS_FILE_KEYS = ['caFile', 'certFile', 'keyFile'] as const;

function natsAuth(v: unknown): CompiledNatsAuth | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) invalid('natsAuth', 'an object', v);
  const given = v as Record<string, unknown>;
  knownKeys('natsAuth', given, NATS_AUTH_KEYS);
  const user = text('natsAuth.user', given['user'], false);
  const pass = text('natsAuth.pass', given['pass'], true);
  const token = text('natsAuth.token', given['token'], true);
  const credsFile = readableFile('natsAuth.credsFile', given['credsFile']);
  if (user !== undefined && pass === undefined) invalid('natsAuth.pass', 'a password with natsAuth.user', undefined);
  if (pass !== undefined && user === undefined) invalid('natsAuth.user', 'a user name with natsAuth.pass', undefined);
  const kinds = [user === undefined ? '' : 'user/pass', token === undefined ? '' : 'token', credsFile === undefined ? '' : 'credsFile'].filter((k) => k !== '');
  if (kinds.length > 1) invalid('natsAuth', 'at most one of token, user with pass, or credsFile', v, kinds.join(' and '));
  const tls = tlsFiles('natsAuth.tls', given['tls']);
  return Object.freeze({
    ...(user === undefined ? {} : { user }),
    ...(pass === undefined ? {} : { pass }),
    ...(token === undefined ? {} : { token }),
    ...(credsFile === undefined ? {} : { credsFile }),
    ...(tls === undefined ? {} : { tls }),
  });
}

/** PEM files of a TLS client, readable: a CA, and a certificate with its key (both or neither). */
function tlsFiles(name: string, v: unknown): CompiledNatsAuth['tls'] {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) invalid(name, 'an object', v);
  const given = v as Record<string, unknown>;
  knownKeys(name, given, TLS_FILE_KEYS);
  const caFile = readableFile(`${name}.caFile`, given['caFile']);
  const certFile = readableFile(`${name}.certFile`, given['certFile']);
  const keyFile = readableFile(`${name}.keyFile`, given['keyFile']);
  if (certFile !== undefined && keyFile === undefined) invalid(`${name}.keyFile`, `a key file with ${name}.certFile`, undefined);
  if (keyFile !== undefined && certFile === undefined) invalid(`${name}.certFile`, `a certificate file with ${name}.keyFile`, undefined);
  return Object.freeze({
    ...(caFile === undefined ? {} : { caFile }),
    ...(certFile === undefined ? {} : { certFile }),
    ...(keyFile === undefined ? {} : { keyFile }),
  });
}

/** A misspelt key (`password` for `pass`) would silently connect without credentials. */
function knownKeys(name: string, given: Record<string, unknown>, known: readonly string[]): void {
  const unknown = Object.keys(given).find((key) => given[key] !== undefined && !known.includes(key));
  if (unknown !== undefined) invalid(name, `only the keys ${known.join(', ')}`, unknown);
}

/** A non-empty string; secrets are never echoed in the error. */
function text(name: string, v: unknown, secret: boolean): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim() === '') {
    const blank = v === null || v === '' || (typeof v === 'string' && v.trim() === '');
    invalid(name, 'a non-empty string', v, secret && !blank ? `a ${typeof v} (not shown)` : describe(v));
  }
  return v;
}

function readableFile(name: string, v: unknown): string | undefined {
  const path = text(name, v, false);
  if (path === undefined) return undefined;
  try {
    if (!statSync(path).isFile()) throw new Error('not a file');
    accessSync(path, constants.R_OK);
  } catch {
    invalid(name, 'the path of a readable file', v);
  }
  return path;
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

/** Attempts in all from `maxRetries`, or from the deprecated `maxAttempts`; not both. */
function retryAttempts(given: SiteRetryOptions): number {
  const { maxRetries, maxAttempts } = given;
  if (maxRetries !== undefined && maxAttempts !== undefined) {
    invalid('retry.maxAttempts', 'either retry.maxRetries or the deprecated retry.maxAttempts, not both', maxAttempts);
  }
  if (maxAttempts !== undefined) return integer('retry.maxAttempts', maxAttempts, Infinity, 1, Number.MAX_SAFE_INTEGER);
  if (maxRetries === undefined || maxRetries === Infinity) return Infinity;
  return integer('retry.maxRetries', maxRetries, Infinity, 0, Number.MAX_SAFE_INTEGER - 1) + 1;
}

/** The units `retry.maxWait` takes: no days. */
const WAIT_UNITS: readonly DurationUnit[] = ['ms', 's', 'm', 'h'];

/** A duration as ms, or text such as `'90s'`; Infinity means no limit. */
function waitDuration(name: string, v: unknown): number {
  const expected = 'a duration: ms above 0, or text such as "90s", "5m", "1h"';
  if (v === Infinity) return Infinity;
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v <= 0) invalid(name, expected, v);
    return v;
  }
  const ms = typeof v === 'string' ? parseDurationText(v, WAIT_UNITS) : undefined;
  if (ms === undefined || !(ms > 0)) invalid(name, expected, v);
  return ms;
}

function flag(name: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') invalid(name, 'true or false', v);
  return v;
}

function duration(name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > MAX_DURATION_MS) {
    invalid(name, `a duration in ms, above 0 and at most ${MAX_DURATION_MS}`, v);
  }
  return v;
}
