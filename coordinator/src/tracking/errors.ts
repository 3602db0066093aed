import { TributaryError } from '@tributary/proto';
import type { Code } from '@tributary/proto';

/**
 * MLflow's error codes (`databricks_pb2.ErrorCode`) as they travel in `{error_code, message}`
 * bodies; a tracking store's TributaryError carries one as its `reason`.
 */
export const TrackingReason = {
  RESOURCE_DOES_NOT_EXIST: 'RESOURCE_DOES_NOT_EXIST',
  RESOURCE_ALREADY_EXISTS: 'RESOURCE_ALREADY_EXISTS',
  INVALID_PARAMETER_VALUE: 'INVALID_PARAMETER_VALUE',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
  TEMPORARILY_UNAVAILABLE: 'TEMPORARILY_UNAVAILABLE',
  /** Our own: the store was used after `close()`. */
  STORE_CLOSED: 'TRACKING_STORE_CLOSED',
} as const;

/** One of MLflow's error codes, or any other string a server sent. */
export type TrackingReasonCode = (typeof TrackingReason)[keyof typeof TrackingReason] | (string & {});

// MLflow error code -> gRPC status name: the one place this mapping lives.
const GRPC_CODE_OF: Readonly<Record<string, Code>> = {
  RESOURCE_DOES_NOT_EXIST: 'NOT_FOUND',
  NOT_FOUND: 'NOT_FOUND',
  ENDPOINT_NOT_FOUND: 'UNIMPLEMENTED',
  RESOURCE_ALREADY_EXISTS: 'ALREADY_EXISTS',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  INVALID_PARAMETER_VALUE: 'INVALID_ARGUMENT',
  BAD_REQUEST: 'INVALID_ARGUMENT',
  MALFORMED_REQUEST: 'INVALID_ARGUMENT',
  INVALID_STATE: 'FAILED_PRECONDITION',
  RESOURCE_CONFLICT: 'ABORTED',
  ABORTED: 'ABORTED',
  CANCELLED: 'CANCELLED',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  CUSTOMER_UNAUTHORIZED: 'UNAUTHENTICATED',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  REQUEST_LIMIT_EXCEEDED: 'RESOURCE_EXHAUSTED',
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
  RESOURCE_LIMIT_EXCEEDED: 'RESOURCE_EXHAUSTED',
  TEMPORARILY_UNAVAILABLE: 'UNAVAILABLE',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  NOT_IMPLEMENTED: 'UNIMPLEMENTED',
  DATA_LOSS: 'DATA_LOSS',
  INTERNAL_ERROR: 'INTERNAL',
  TRACKING_STORE_CLOSED: 'FAILED_PRECONDITION',
};

// HTTP status -> MLflow error code, for error responses without a JSON body (MLflow's
// HTTP_STATUS_TO_ERROR_CODE, with 409 read as "already exists").
const ERROR_CODE_OF_HTTP: Readonly<Record<number, string>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'ENDPOINT_NOT_FOUND',
  408: 'DEADLINE_EXCEEDED',
  409: 'RESOURCE_ALREADY_EXISTS',
  429: 'REQUEST_LIMIT_EXCEEDED',
  499: 'CANCELLED',
  500: 'INTERNAL_ERROR',
  501: 'NOT_IMPLEMENTED',
  502: 'TEMPORARILY_UNAVAILABLE',
  503: 'TEMPORARILY_UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** The gRPC status name for an MLflow error code (`UNKNOWN` for codes MLflow does not define). */
export function grpcCodeOfTrackingReason(reason: string): Code {
  return GRPC_CODE_OF[reason] ?? 'UNKNOWN';
}

/** The MLflow error code an HTTP status stands for when the body does not say. */
export function trackingReasonOfHttpStatus(status: number): string {
  return ERROR_CODE_OF_HTTP[status] ?? 'INTERNAL_ERROR';
}

export interface TrackingErrorInit {
  reason: TrackingReasonCode;
  message: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

/** A TributaryError whose reason is an MLflow error code and whose code is the matching gRPC status. */
export function trackingError(init: TrackingErrorInit): TributaryError {
  return new TributaryError({
    code: grpcCodeOfTrackingReason(init.reason),
    reason: init.reason,
    message: init.message,
    ...(init.cause === undefined ? {} : { cause: init.cause }),
    ...(init.details === undefined ? {} : { details: init.details }),
  });
}

export function invalidParameter(message: string, details?: Record<string, unknown>): TributaryError {
  return trackingError({
    reason: TrackingReason.INVALID_PARAMETER_VALUE,
    message,
    ...(details === undefined ? {} : { details }),
  });
}

export function resourceDoesNotExist(message: string): TributaryError {
  return trackingError({ reason: TrackingReason.RESOURCE_DOES_NOT_EXIST, message });
}

export function resourceAlreadyExists(message: string): TributaryError {
  return trackingError({ reason: TrackingReason.RESOURCE_ALREADY_EXISTS, message });
}

/** True when `err` is a TributaryError (or its structural twin) carrying this MLflow error code. */
export function hasTrackingReason(err: unknown, reason: TrackingReasonCode): boolean {
  if (err instanceof TributaryError) return err.reason === reason;
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { name?: unknown }).name === 'TributaryError' &&
    (err as { reason?: unknown }).reason === reason
  );
}

/** True when the experiment, run, tag or metric asked for does not exist. */
export const isResourceDoesNotExist = (err: unknown): boolean =>
  hasTrackingReason(err, TrackingReason.RESOURCE_DOES_NOT_EXIST);

/** True when an experiment of that name already exists. */
export const isResourceAlreadyExists = (err: unknown): boolean =>
  hasTrackingReason(err, TrackingReason.RESOURCE_ALREADY_EXISTS);
