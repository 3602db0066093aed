/** gRPC status names; `TributaryError.code` is one of these. */
export type Code =
  | 'OK'
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'DATA_LOSS'
  | 'UNAUTHENTICATED';

// Index = gRPC numeric status (grpc/doc/statuscodes.md).
const CODES: readonly Code[] = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/** The gRPC numeric status of a code. */
export const grpcStatusOf = (code: Code): number => CODES.indexOf(code);

/** The code of a gRPC numeric status; unknown numbers give `UNKNOWN`. */
export const codeOfGrpcStatus = (n: number): Code => CODES[n] ?? 'UNKNOWN';

/**
 * Every reason code of Tributary: why something was refused or failed. Stable: they travel on the
 * wire (the `x-tributary-reason` trailer, `UpdateStatus.reason`, `Refusal.reason`, failure
 * reasons) and are documented in docs/protocol.md. Each gRPC status name is also a reason, for
 * failures that carry no reason of their own (a call that never reached the coordinator).
 */
export const Reason = {
  // Requests and calls
  INVALID_NAME: 'INVALID_NAME',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  NOT_FOUND: 'NOT_FOUND',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  INVITATION_INVALID: 'INVITATION_INVALID',
  MALFORMED_REQUEST: 'MALFORMED_REQUEST',
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  RUN_ALREADY_RUNNING: 'RUN_ALREADY_RUNNING',
  RATE_LIMITED: 'RATE_LIMITED',
  UNIMPLEMENTED: 'UNIMPLEMENTED',
  INTERNAL: 'INTERNAL',
  // Call authentication
  AUTH_MISSING: 'AUTH_MISSING',
  AUTH_EXPIRED: 'AUTH_EXPIRED',
  AUTH_REPLAYED: 'AUTH_REPLAYED',
  AUTH_SIGNATURE_INVALID: 'AUTH_SIGNATURE_INVALID',
  AUTH_UNKNOWN_KEY: 'AUTH_UNKNOWN_KEY',
  AUTH_FAILED: 'AUTH_FAILED',
  KEY_REVOKED: 'KEY_REVOKED',
  PRINCIPAL_DISABLED: 'PRINCIPAL_DISABLED',
  // Updates, evaluation results, metric batches and verdicts
  MALFORMED_ENVELOPE: 'MALFORMED_ENVELOPE',
  MALFORMED_MANIFEST: 'MALFORMED_MANIFEST',
  MALFORMED_PAYLOAD: 'MALFORMED_PAYLOAD',
  UNKNOWN_KEY: 'UNKNOWN_KEY',
  SIGNATURE_INVALID: 'SIGNATURE_INVALID',
  VERDICT_SIGNATURE_INVALID: 'VERDICT_SIGNATURE_INVALID',
  COORDINATOR_KEY_MISMATCH: 'COORDINATOR_KEY_MISMATCH',
  SITE_MISMATCH: 'SITE_MISMATCH',
  SUBJECT_MISMATCH: 'SUBJECT_MISMATCH',
  NOT_A_MEMBER: 'NOT_A_MEMBER',
  REPLAYED_UPDATE: 'REPLAYED_UPDATE',
  ZERO_EXAMPLES: 'ZERO_EXAMPLES',
  TOO_MANY_EXAMPLES: 'TOO_MANY_EXAMPLES',
  RUN_NOT_FOUND: 'RUN_NOT_FOUND',
  RUN_NOT_RUNNING: 'RUN_NOT_RUNNING',
  WRONG_ROUND: 'WRONG_ROUND',
  ROUND_NOT_OPEN: 'ROUND_NOT_OPEN',
  DEADLINE_PASSED: 'DEADLINE_PASSED',
  SITE_NOT_SELECTED: 'SITE_NOT_SELECTED',
  ALREADY_DELIVERED: 'ALREADY_DELIVERED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  SCHEMA_MISMATCH: 'SCHEMA_MISMATCH',
  PAYLOAD_MISSING: 'PAYLOAD_MISSING',
  UPLOAD_TIMEOUT: 'UPLOAD_TIMEOUT',
  UPLOAD_IN_PROGRESS: 'UPLOAD_IN_PROGRESS',
  SIZE_MISMATCH: 'SIZE_MISMATCH',
  DIGEST_MISMATCH: 'DIGEST_MISMATCH',
  NON_FINITE: 'NON_FINITE',
  INVALID_METRIC_KEY: 'INVALID_METRIC_KEY',
  VALUE_OUT_OF_RANGE: 'VALUE_OUT_OF_RANGE',
  NORM_EXCEEDED: 'NORM_EXCEEDED',
  // Rounds and runs
  QUORUM_NOT_MET: 'QUORUM_NOT_MET',
  STRATEGY_ERROR: 'STRATEGY_ERROR',
  NON_FINITE_AGGREGATE: 'NON_FINITE_AGGREGATE',
  RUN_STOPPED: 'RUN_STOPPED',
  RESUME_FAILED: 'RESUME_FAILED',
  // Aggregation workers: a partial aggregate the coordinator does not take (wrong key, ids, digest)
  PARTIAL_REFUSED: 'PARTIAL_REFUSED',
  // A key that is not an aggregation worker asked for a worker's credentials
  NOT_AN_AGGREGATOR: 'NOT_AN_AGGREGATOR',
  SITE_ERROR: 'SITE_ERROR',
  SITE_UNRESPONSIVE: 'SITE_UNRESPONSIVE',
  RUN_TIMEOUT: 'RUN_TIMEOUT',
  // Starting the coordinator
  NATS_UNAVAILABLE: 'NATS_UNAVAILABLE',
  NATS_AUTH_FAILED: 'NATS_AUTH_FAILED',
  NATS_CREDENTIALS_INVALID: 'NATS_CREDENTIALS_INVALID',
  JETSTREAM_UNAVAILABLE: 'JETSTREAM_UNAVAILABLE',
  LISTEN_FAILED: 'LISTEN_FAILED',
  DATA_DIR_IN_USE: 'DATA_DIR_IN_USE',
  STATE_STORE_UNAVAILABLE: 'STATE_STORE_UNAVAILABLE',
  STATE_WRITE_FAILED: 'STATE_WRITE_FAILED',
  INSECURE_LISTEN: 'INSECURE_LISTEN',
  TLS_SETUP_FAILED: 'TLS_SETUP_FAILED',
  AUDIT_UNAVAILABLE: 'AUDIT_UNAVAILABLE',
  NATS_AUTHORITY_MISSING: 'NATS_AUTHORITY_MISSING',
  NATS_AUTHORITY_INSECURE: 'NATS_AUTHORITY_INSECURE',
  NATS_AUTHORITY_INVALID: 'NATS_AUTHORITY_INVALID',
  CLAIMS_UPDATE_FAILED: 'CLAIMS_UPDATE_FAILED',
  CLAIMS_UPDATE_REFUSED: 'CLAIMS_UPDATE_REFUSED',
  // Plugins
  PLUGIN_NOT_FOUND: 'PLUGIN_NOT_FOUND',
  PLUGIN_LOAD_FAILED: 'PLUGIN_LOAD_FAILED',
  PLUGIN_INVALID: 'PLUGIN_INVALID',
  // Tracking stores (the store reasons are MLflow's error codes)
  UNKNOWN_TRACKING_SCHEME: 'UNKNOWN_TRACKING_SCHEME',
  INVALID_TRACKING_URI: 'INVALID_TRACKING_URI',
  TRACKING_STORE_OPEN_FAILED: 'TRACKING_STORE_OPEN_FAILED',
  TRACKING_STORE_CLOSED: 'TRACKING_STORE_CLOSED',
  RESOURCE_DOES_NOT_EXIST: 'RESOURCE_DOES_NOT_EXIST',
  RESOURCE_ALREADY_EXISTS: 'RESOURCE_ALREADY_EXISTS',
  INVALID_PARAMETER_VALUE: 'INVALID_PARAMETER_VALUE',
  TEMPORARILY_UNAVAILABLE: 'TEMPORARILY_UNAVAILABLE',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
  // Local tools
  NATS_SERVER_MISSING: 'NATS_SERVER_MISSING',
  NATS_SERVER_START_FAILED: 'NATS_SERVER_START_FAILED',
  SITE_AGENT_MISSING: 'SITE_AGENT_MISSING',
  KEY_FILE_INVALID: 'KEY_FILE_INVALID',
  KEY_FILE_INSECURE: 'KEY_FILE_INSECURE',
  USAGE: 'USAGE',
  SCRIPT_FAILED: 'SCRIPT_FAILED',
  // gRPC status names (OK aside), for failures without a reason of their own
  CANCELLED: 'CANCELLED',
  UNKNOWN: 'UNKNOWN',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
  FAILED_PRECONDITION: 'FAILED_PRECONDITION',
  ABORTED: 'ABORTED',
  OUT_OF_RANGE: 'OUT_OF_RANGE',
  UNAVAILABLE: 'UNAVAILABLE',
  DATA_LOSS: 'DATA_LOSS',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
} as const;

/** One of the `Reason` constants. */
export type ReasonCode = (typeof Reason)[keyof typeof Reason];

/**
 * The gRPC status of each reason: the one place that decides it. A few call sites override it
 * (documented in docs/protocol.md), e.g. `OUT_OF_RANGE` for a download offset past the end.
 */
export const REASON_STATUS: Readonly<Record<ReasonCode, Code>> = {
  INVALID_NAME: 'INVALID_ARGUMENT',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  NOT_FOUND: 'NOT_FOUND',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  INVITATION_INVALID: 'PERMISSION_DENIED',
  MALFORMED_REQUEST: 'INVALID_ARGUMENT',
  MESSAGE_TOO_LARGE: 'RESOURCE_EXHAUSTED',
  RUN_ALREADY_RUNNING: 'FAILED_PRECONDITION',
  RATE_LIMITED: 'RESOURCE_EXHAUSTED',
  UNIMPLEMENTED: 'UNIMPLEMENTED',
  INTERNAL: 'INTERNAL',
  AUTH_MISSING: 'UNAUTHENTICATED',
  AUTH_EXPIRED: 'UNAUTHENTICATED',
  AUTH_REPLAYED: 'UNAUTHENTICATED',
  AUTH_SIGNATURE_INVALID: 'UNAUTHENTICATED',
  AUTH_UNKNOWN_KEY: 'UNAUTHENTICATED',
  AUTH_FAILED: 'UNAUTHENTICATED',
  KEY_REVOKED: 'UNAUTHENTICATED',
  PRINCIPAL_DISABLED: 'UNAUTHENTICATED',
  MALFORMED_ENVELOPE: 'INVALID_ARGUMENT',
  MALFORMED_MANIFEST: 'INVALID_ARGUMENT',
  MALFORMED_PAYLOAD: 'INVALID_ARGUMENT',
  UNKNOWN_KEY: 'UNAUTHENTICATED',
  SIGNATURE_INVALID: 'UNAUTHENTICATED',
  VERDICT_SIGNATURE_INVALID: 'UNAUTHENTICATED',
  COORDINATOR_KEY_MISMATCH: 'UNAUTHENTICATED',
  SITE_MISMATCH: 'PERMISSION_DENIED',
  SUBJECT_MISMATCH: 'INVALID_ARGUMENT',
  NOT_A_MEMBER: 'PERMISSION_DENIED',
  REPLAYED_UPDATE: 'ALREADY_EXISTS',
  ZERO_EXAMPLES: 'INVALID_ARGUMENT',
  TOO_MANY_EXAMPLES: 'INVALID_ARGUMENT',
  RUN_NOT_FOUND: 'NOT_FOUND',
  RUN_NOT_RUNNING: 'FAILED_PRECONDITION',
  WRONG_ROUND: 'FAILED_PRECONDITION',
  ROUND_NOT_OPEN: 'FAILED_PRECONDITION',
  DEADLINE_PASSED: 'FAILED_PRECONDITION',
  SITE_NOT_SELECTED: 'FAILED_PRECONDITION',
  ALREADY_DELIVERED: 'ALREADY_EXISTS',
  PAYLOAD_TOO_LARGE: 'RESOURCE_EXHAUSTED',
  SCHEMA_MISMATCH: 'INVALID_ARGUMENT',
  PAYLOAD_MISSING: 'DATA_LOSS',
  UPLOAD_TIMEOUT: 'DEADLINE_EXCEEDED',
  UPLOAD_IN_PROGRESS: 'RESOURCE_EXHAUSTED',
  SIZE_MISMATCH: 'DATA_LOSS',
  DIGEST_MISMATCH: 'DATA_LOSS',
  NON_FINITE: 'INVALID_ARGUMENT',
  INVALID_METRIC_KEY: 'INVALID_ARGUMENT',
  VALUE_OUT_OF_RANGE: 'INVALID_ARGUMENT',
  NORM_EXCEEDED: 'INVALID_ARGUMENT',
  QUORUM_NOT_MET: 'FAILED_PRECONDITION',
  STRATEGY_ERROR: 'FAILED_PRECONDITION',
  NON_FINITE_AGGREGATE: 'FAILED_PRECONDITION',
  RUN_STOPPED: 'FAILED_PRECONDITION',
  RESUME_FAILED: 'INTERNAL',
  PARTIAL_REFUSED: 'FAILED_PRECONDITION',
  NOT_AN_AGGREGATOR: 'PERMISSION_DENIED',
  SITE_ERROR: 'FAILED_PRECONDITION',
  SITE_UNRESPONSIVE: 'DEADLINE_EXCEEDED',
  RUN_TIMEOUT: 'DEADLINE_EXCEEDED',
  NATS_UNAVAILABLE: 'UNAVAILABLE',
  NATS_AUTH_FAILED: 'PERMISSION_DENIED',
  NATS_CREDENTIALS_INVALID: 'UNAUTHENTICATED',
  JETSTREAM_UNAVAILABLE: 'FAILED_PRECONDITION',
  LISTEN_FAILED: 'UNAVAILABLE',
  DATA_DIR_IN_USE: 'FAILED_PRECONDITION',
  STATE_STORE_UNAVAILABLE: 'FAILED_PRECONDITION',
  STATE_WRITE_FAILED: 'UNAVAILABLE',
  INSECURE_LISTEN: 'FAILED_PRECONDITION',
  TLS_SETUP_FAILED: 'FAILED_PRECONDITION',
  AUDIT_UNAVAILABLE: 'UNAVAILABLE',
  NATS_AUTHORITY_MISSING: 'FAILED_PRECONDITION',
  NATS_AUTHORITY_INSECURE: 'FAILED_PRECONDITION',
  NATS_AUTHORITY_INVALID: 'FAILED_PRECONDITION',
  CLAIMS_UPDATE_FAILED: 'UNAVAILABLE',
  CLAIMS_UPDATE_REFUSED: 'FAILED_PRECONDITION',
  PLUGIN_NOT_FOUND: 'NOT_FOUND',
  PLUGIN_LOAD_FAILED: 'FAILED_PRECONDITION',
  PLUGIN_INVALID: 'INVALID_ARGUMENT',
  UNKNOWN_TRACKING_SCHEME: 'INVALID_ARGUMENT',
  INVALID_TRACKING_URI: 'INVALID_ARGUMENT',
  TRACKING_STORE_OPEN_FAILED: 'FAILED_PRECONDITION',
  TRACKING_STORE_CLOSED: 'FAILED_PRECONDITION',
  RESOURCE_DOES_NOT_EXIST: 'NOT_FOUND',
  RESOURCE_ALREADY_EXISTS: 'ALREADY_EXISTS',
  INVALID_PARAMETER_VALUE: 'INVALID_ARGUMENT',
  TEMPORARILY_UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL_ERROR: 'INTERNAL',
  NATS_SERVER_MISSING: 'FAILED_PRECONDITION',
  NATS_SERVER_START_FAILED: 'UNAVAILABLE',
  SITE_AGENT_MISSING: 'FAILED_PRECONDITION',
  KEY_FILE_INVALID: 'INVALID_ARGUMENT',
  KEY_FILE_INSECURE: 'FAILED_PRECONDITION',
  USAGE: 'INVALID_ARGUMENT',
  SCRIPT_FAILED: 'ABORTED',
  CANCELLED: 'CANCELLED',
  UNKNOWN: 'UNKNOWN',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
  FAILED_PRECONDITION: 'FAILED_PRECONDITION',
  ABORTED: 'ABORTED',
  OUT_OF_RANGE: 'OUT_OF_RANGE',
  UNAVAILABLE: 'UNAVAILABLE',
  DATA_LOSS: 'DATA_LOSS',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
};

/** True for the reason codes of `Reason` (e.g. a reason read off the wire). */
export function isReasonCode(value: unknown): value is ReasonCode {
  return typeof value === 'string' && Object.hasOwn(REASON_STATUS, value);
}

/** The reason that stands for a bare gRPC status (`OK` is no failure, so `UNKNOWN`). */
const reasonOfCode = (code: Code): ReasonCode => (code === 'OK' ? Reason.UNKNOWN : code);

/** gRPC trailer key that carries a TributaryError's reason across the wire. */
export const REASON_TRAILER = 'x-tributary-reason';

/** Why something was refused: a reason code and a one-line message. */
export interface Refusal {
  readonly reason: ReasonCode;
  readonly message: string;
}

/** A refusal with this reason and message. */
export const refusalOf = (reason: ReasonCode, message: string): Refusal => ({ reason, message });

const RETRYABLE_CODES: ReadonlySet<Code> = new Set<Code>([
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'RESOURCE_EXHAUSTED',
  'ABORTED',
]);

export interface TributaryErrorOptions {
  /** @default the reason's status in `REASON_STATUS` */
  code?: Code;
  /** @default true for UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED */
  retryable?: boolean;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export interface TributaryErrorInit extends TributaryErrorOptions {
  code: Code;
  reason: ReasonCode;
  message: string;
}

/** The one error type of Tributary: a gRPC code, a stable reason code and a message. */
export class TributaryError extends Error {
  override readonly name = 'TributaryError';
  readonly code: Code;
  readonly reason: ReasonCode;
  readonly retryable: boolean;
  readonly details?: Record<string, unknown>;

  constructor(init: TributaryErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.reason = init.reason;
    this.retryable = init.retryable ?? RETRYABLE_CODES.has(init.code);
    if (init.details !== undefined) this.details = init.details;
  }

  /** An error for `reason`, with its status from `REASON_STATUS` unless `options.code` says otherwise. */
  static of(reason: ReasonCode, message: string, options: TributaryErrorOptions = {}): TributaryError {
    return new TributaryError({ ...options, code: options.code ?? REASON_STATUS[reason], reason, message });
  }

  /** INVALID_ARGUMENT: a value is missing or malformed; the message names it. */
  static invalidArgument(message: string, reason: ReasonCode = Reason.INVALID_ARGUMENT): TributaryError {
    return TributaryError.of(reason, message);
  }

  /** NOT_FOUND: the named thing does not exist. */
  static notFound(message: string): TributaryError {
    return TributaryError.of(Reason.NOT_FOUND, message);
  }

  /** INTERNAL: a bug or a broken invariant. */
  static internal(message: string, cause?: unknown): TributaryError {
    return TributaryError.of(Reason.INTERNAL, message, cause === undefined ? {} : { cause });
  }

  /** CANCELLED: the caller gave up (an abort signal, Ctrl-C, a closing client). */
  static cancelled(message: string, cause?: unknown): TributaryError {
    return TributaryError.of(Reason.CANCELLED, message, cause === undefined ? {} : { cause });
  }

  /**
   * Normalises anything thrown: a TributaryError is returned as is; a gRPC ServiceError keeps its
   * status and the reason from its `x-tributary-reason` trailer (or its status name when the
   * trailer is missing or names no known reason, which is then kept in `details.reason`); an abort
   * becomes CANCELLED; anything else is INTERNAL.
   */
  static from(err: unknown): TributaryError {
    if (err instanceof TributaryError) return err;
    if (isServiceErrorLike(err)) {
      const code = codeOfGrpcStatus(err.code);
      const trailer = err.metadata?.get(REASON_TRAILER)?.[0];
      const message =
        typeof err.details === 'string' && err.details !== '' ? err.details : err.message;
      if (isReasonCode(trailer)) return TributaryError.of(trailer, message, { code, cause: err });
      // The connection under the call went away (grpc-js reports it as INTERNAL): the server
      // never answered, so this is an unavailable server, retried like one.
      if (code === 'INTERNAL' && trailer === undefined && CONNECTION_LOST.test(message)) return TributaryError.of(Reason.UNAVAILABLE, message, { cause: err });
      // A reason this version does not know (from a newer coordinator) is kept for the logs.
      const unknown = typeof trailer === 'string' && trailer !== '' ? { details: { reason: trailer } } : {};
      return TributaryError.of(reasonOfCode(code), message, { code, cause: err, ...unknown });
    }
    if (isAbortError(err)) {
      return TributaryError.cancelled(err instanceof Error ? err.message : 'operation aborted', err);
    }
    const message =
      err instanceof Error ? err.message : typeof err === 'string' ? err : String(err);
    return TributaryError.internal(message, err);
  }

  /** The refusal this error stands for: its reason and message. */
  toRefusal(): Refusal {
    return refusalOf(this.reason, this.message);
  }
}

/** True when `err` is a TributaryError (or its structural twin) with this reason. */
export function hasReason(err: unknown, reason: ReasonCode): boolean {
  return isTributaryError(err) && err.reason === reason;
}

/** True for TributaryError instances (also across duplicated module copies). */
export function isTributaryError(e: unknown): e is TributaryError {
  if (e instanceof TributaryError) return true;
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  return (
    o['name'] === 'TributaryError' &&
    typeof o['code'] === 'string' &&
    typeof o['reason'] === 'string' &&
    typeof o['retryable'] === 'boolean'
  );
}

/**
 * grpc-js's status details when the HTTP/2 stream or session under a call was reset or closed
 * on the client's side (a lost connection, a GOAWAY), before the server sent a status.
 */
const CONNECTION_LOST = /^Received RST_STREAM with code \d+ triggered by internal client error: Session closed|^Received RST_STREAM with code \d+ \(Call ended without gRPC status\)/;

interface ServiceErrorLike extends Error {
  code: number;
  details?: unknown;
  metadata?: { get(key: string): unknown[] };
}

// Structural test so this module need not import @grpc/grpc-js.
function isServiceErrorLike(e: unknown): e is ServiceErrorLike {
  if (!(e instanceof Error)) return false;
  const o = e as unknown as Record<string, unknown>;
  if (typeof o['code'] !== 'number' || !Number.isInteger(o['code'])) return false;
  const md = o['metadata'];
  if (md === undefined) return 'details' in o;
  return typeof md === 'object' && md !== null && typeof (md as { get?: unknown }).get === 'function';
}

function isAbortError(e: unknown): boolean {
  return (
    typeof e === 'object' &&
    e !== null &&
    ((e as { name?: unknown }).name === 'AbortError' ||
      (e as { code?: unknown }).code === 'ABORT_ERR')
  );
}

/** Characters of caller input an error message quotes at most. */
export const QUOTED_INPUT_CHARS = 64;
/** Characters of a status message sent to a caller at most (longer ones are cut). */
export const MAX_STATUS_MESSAGE_CHARS = 512;

/**
 * Caller input as an error message shows it: JSON-quoted, at most `QUOTED_INPUT_CHARS`
 * characters of it, then "…(N bytes)" when it was longer. Error messages never echo more,
 * so a long request string cannot make a long (or oversized) status.
 */
export function quoted(input: unknown): string {
  const text = typeof input === 'string' ? input : input === undefined || input === null ? String(input) : typeof input === 'object' ? '[object]' : String(input);
  const chars = Array.from(text);
  if (chars.length <= QUOTED_INPUT_CHARS) return JSON.stringify(text);
  return `${JSON.stringify(chars.slice(0, QUOTED_INPUT_CHARS).join(''))}…(${Buffer.byteLength(text, 'utf8')} bytes)`;
}

/** A status message as it goes on the wire: one line, at most `MAX_STATUS_MESSAGE_CHARS` characters. */
export function statusMessageOf(message: string): string {
  const line = message.split('\n')[0] ?? '';
  const chars = Array.from(line);
  return chars.length <= MAX_STATUS_MESSAGE_CHARS ? line : `${chars.slice(0, MAX_STATUS_MESSAGE_CHARS - 1).join('')}…`;
}
