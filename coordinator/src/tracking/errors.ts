import { Reason, hasReason } from '@tributary/proto';
import type { ReasonCode } from '@tributary/proto';

/**
 * MLflow's error codes (`databricks_pb2.ErrorCode`), as an MLflow server sends them in
 * `{error_code, message}` bodies, to our reasons. The codes our own stores raise keep MLflow's
 * names (RESOURCE_DOES_NOT_EXIST, RESOURCE_ALREADY_EXISTS, INVALID_PARAMETER_VALUE, ...); the
 * others map to the nearest reason. Codes MLflow does not define are UNKNOWN.
 */
const REASON_OF_MLFLOW_ERROR: Readonly<Record<string, ReasonCode>> = {
  RESOURCE_DOES_NOT_EXIST: Reason.RESOURCE_DOES_NOT_EXIST,
  NOT_FOUND: Reason.RESOURCE_DOES_NOT_EXIST,
  ENDPOINT_NOT_FOUND: Reason.UNIMPLEMENTED,
  RESOURCE_ALREADY_EXISTS: Reason.RESOURCE_ALREADY_EXISTS,
  ALREADY_EXISTS: Reason.RESOURCE_ALREADY_EXISTS,
  INVALID_PARAMETER_VALUE: Reason.INVALID_PARAMETER_VALUE,
  BAD_REQUEST: Reason.INVALID_PARAMETER_VALUE,
  MALFORMED_REQUEST: Reason.INVALID_PARAMETER_VALUE,
  INVALID_STATE: Reason.FAILED_PRECONDITION,
  RESOURCE_CONFLICT: Reason.ABORTED,
  ABORTED: Reason.ABORTED,
  CANCELLED: Reason.CANCELLED,
  UNAUTHENTICATED: Reason.UNAUTHENTICATED,
  CUSTOMER_UNAUTHORIZED: Reason.UNAUTHENTICATED,
  PERMISSION_DENIED: Reason.PERMISSION_DENIED,
  REQUEST_LIMIT_EXCEEDED: Reason.RATE_LIMITED,
  RESOURCE_EXHAUSTED: Reason.RESOURCE_EXHAUSTED,
  RESOURCE_LIMIT_EXCEEDED: Reason.RESOURCE_EXHAUSTED,
  TEMPORARILY_UNAVAILABLE: Reason.TEMPORARILY_UNAVAILABLE,
  DEADLINE_EXCEEDED: Reason.DEADLINE_EXCEEDED,
  NOT_IMPLEMENTED: Reason.UNIMPLEMENTED,
  DATA_LOSS: Reason.DATA_LOSS,
  INTERNAL_ERROR: Reason.INTERNAL_ERROR,
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

/** Our reason for an MLflow error code (`UNKNOWN` for codes MLflow does not define). */
export function reasonOfMlflowError(errorCode: string): ReasonCode {
  return Object.hasOwn(REASON_OF_MLFLOW_ERROR, errorCode) ? REASON_OF_MLFLOW_ERROR[errorCode]! : Reason.UNKNOWN;
}

/** The MLflow error code an HTTP status stands for when the body does not say. */
export function mlflowErrorOfHttpStatus(status: number): string {
  return ERROR_CODE_OF_HTTP[status] ?? 'INTERNAL_ERROR';
}

/** True when the experiment, run, tag or metric asked for does not exist. */
export const isResourceDoesNotExist = (err: unknown): boolean => hasReason(err, Reason.RESOURCE_DOES_NOT_EXIST);

/** True when an experiment of that name already exists. */
export const isResourceAlreadyExists = (err: unknown): boolean => hasReason(err, Reason.RESOURCE_ALREADY_EXISTS);
