import { TributaryError, isTributaryError } from '../errors.js';

/** The error to throw for an aborted signal: its reason when that is a TributaryError, else CANCELLED. */
export function abortError(signal: AbortSignal): TributaryError {
  const reason: unknown = signal.reason;
  if (isTributaryError(reason)) return reason;
  return TributaryError.cancelled(reason instanceof Error ? reason.message : 'operation cancelled', reason);
}

/** Throws `abortError(signal)` when the signal has aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw abortError(signal);
}
