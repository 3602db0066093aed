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

/** Stable reason codes: why something was refused. Documented in docs/protocol.md. */
export const Reason = {
  INVALID_NAME: 'INVALID_NAME',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  NOT_FOUND: 'NOT_FOUND',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  MALFORMED_ENVELOPE: 'MALFORMED_ENVELOPE',
  MALFORMED_MANIFEST: 'MALFORMED_MANIFEST',
  MALFORMED_PAYLOAD: 'MALFORMED_PAYLOAD',
  UNKNOWN_KEY: 'UNKNOWN_KEY',
  KEY_REVOKED: 'KEY_REVOKED',
  SIGNATURE_INVALID: 'SIGNATURE_INVALID',
  SITE_MISMATCH: 'SITE_MISMATCH',
  SUBJECT_MISMATCH: 'SUBJECT_MISMATCH',
  NOT_A_MEMBER: 'NOT_A_MEMBER',
  RUN_NOT_FOUND: 'RUN_NOT_FOUND',
  RUN_NOT_RUNNING: 'RUN_NOT_RUNNING',
  WRONG_ROUND: 'WRONG_ROUND',
  ROUND_NOT_OPEN: 'ROUND_NOT_OPEN',
  SITE_NOT_SELECTED: 'SITE_NOT_SELECTED',
  ALREADY_DELIVERED: 'ALREADY_DELIVERED',
  DEADLINE_PASSED: 'DEADLINE_PASSED',
  REPLAYED_UPDATE: 'REPLAYED_UPDATE',
  DIGEST_MISMATCH: 'DIGEST_MISMATCH',
  SIZE_MISMATCH: 'SIZE_MISMATCH',
  PAYLOAD_MISSING: 'PAYLOAD_MISSING',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  SCHEMA_MISMATCH: 'SCHEMA_MISMATCH',
  NON_FINITE: 'NON_FINITE',
  NORM_EXCEEDED: 'NORM_EXCEEDED',
  ZERO_EXAMPLES: 'ZERO_EXAMPLES',
  AUTH_MISSING: 'AUTH_MISSING',
  AUTH_EXPIRED: 'AUTH_EXPIRED',
  AUTH_REPLAYED: 'AUTH_REPLAYED',
  AUTH_SIGNATURE_INVALID: 'AUTH_SIGNATURE_INVALID',
  AUTH_UNKNOWN_KEY: 'AUTH_UNKNOWN_KEY',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  INVITATION_INVALID: 'INVITATION_INVALID',
  QUORUM_NOT_MET: 'QUORUM_NOT_MET',
  STRATEGY_ERROR: 'STRATEGY_ERROR',
  RUN_STOPPED: 'RUN_STOPPED',
  NATS_SERVER_MISSING: 'NATS_SERVER_MISSING',
  NATS_SERVER_START_FAILED: 'NATS_SERVER_START_FAILED',
  KEY_FILE_INVALID: 'KEY_FILE_INVALID',
  KEY_FILE_INSECURE: 'KEY_FILE_INSECURE',
  RUN_ALREADY_RUNNING: 'RUN_ALREADY_RUNNING',
  RESUME_FAILED: 'RESUME_FAILED',
  NATS_UNAVAILABLE: 'NATS_UNAVAILABLE',
  JETSTREAM_UNAVAILABLE: 'JETSTREAM_UNAVAILABLE',
  LISTEN_FAILED: 'LISTEN_FAILED',
  DATA_DIR_IN_USE: 'DATA_DIR_IN_USE',
  STATE_STORE_UNAVAILABLE: 'STATE_STORE_UNAVAILABLE',
  UNIMPLEMENTED: 'UNIMPLEMENTED',
  INTERNAL: 'INTERNAL',
} as const;

/** One of the `Reason` constants. */
export type ReasonCode = (typeof Reason)[keyof typeof Reason];

/** gRPC trailer key that carries a TributaryError's reason across the wire. */
export const REASON_TRAILER = 'x-tributary-reason';

const RETRYABLE_CODES: ReadonlySet<Code> = new Set<Code>([
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'RESOURCE_EXHAUSTED',
  'ABORTED',
]);

export interface TributaryErrorInit {
  code: Code;
  reason: string;
  message: string;
  /** @default true for UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED */
  retryable?: boolean;
  cause?: unknown;
  details?: Record<string, unknown>;
}

/** The one error type of Tributary: a gRPC code, a stable reason code and a message. */
export class TributaryError extends Error {
  override readonly name = 'TributaryError';
  readonly code: Code;
  readonly reason: string;
  readonly retryable: boolean;
  readonly details?: Record<string, unknown>;

  constructor(init: TributaryErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.reason = init.reason;
    this.retryable = init.retryable ?? RETRYABLE_CODES.has(init.code);
    if (init.details !== undefined) this.details = init.details;
  }

  /**
   * Normalises anything thrown: a TributaryError is returned as is; a gRPC ServiceError keeps its
   * status and the reason from its `x-tributary-reason` trailer; an abort becomes CANCELLED;
   * anything else is INTERNAL.
   */
  static from(err: unknown): TributaryError {
    if (err instanceof TributaryError) return err;
    if (isServiceErrorLike(err)) {
      const code = codeOfGrpcStatus(err.code);
      const reasonValues = err.metadata?.get(REASON_TRAILER) ?? [];
      const first = reasonValues[0];
      const reason = typeof first === 'string' && first !== '' ? first : code;
      const message =
        typeof err.details === 'string' && err.details !== '' ? err.details : err.message;
      return new TributaryError({ code, reason, message, cause: err });
    }
    if (isAbortError(err)) {
      return new TributaryError({
        code: 'CANCELLED',
        reason: 'CANCELLED',
        message: err instanceof Error ? err.message : 'operation aborted',
        cause: err,
      });
    }
    const message =
      err instanceof Error ? err.message : typeof err === 'string' ? err : String(err);
    return new TributaryError({ code: 'INTERNAL', reason: Reason.INTERNAL, message, cause: err });
  }
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
