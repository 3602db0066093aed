import { TributaryError, isTributaryError } from '@tributary/proto';

/** Largest delay `setTimeout` honours; longer delays are re-armed in steps of this size. */
const MAX_TIMER_MS = 2_147_483_647;

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

/** A signal that aborts when any parent aborts or at `deadline.atMs`; `dispose()` detaches it. */
export interface LinkedSignal {
  readonly signal: AbortSignal;
  /** Aborts the linked signal with `reason` (no effect on the parents). */
  abort(reason: unknown): void;
  /** Removes the listeners on the parents and the deadline timer. Idempotent. */
  dispose(): void;
}

export interface LinkOptions {
  /** Wall-clock time (Unix ms) at which the signal aborts with `reason()`. */
  readonly deadline?: { readonly atMs: number; readonly reason: () => unknown };
}

/**
 * Links signals without `AbortSignal.any`, so listeners are removed as soon as the link is
 * disposed or fires (long-lived parents such as a client's shutdown signal would otherwise
 * collect one listener per task).
 */
export function linkSignals(
  parents: ReadonlyArray<AbortSignal | undefined>,
  opts: LinkOptions = {},
): LinkedSignal {
  const controller = new AbortController();
  const attached: AbortSignal[] = [];
  let timer: NodeJS.Timeout | undefined;
  let disposed = false;

  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    for (const p of attached) p.removeEventListener('abort', onParentAbort);
    attached.length = 0;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  const abort = (reason: unknown): void => {
    dispose();
    if (!controller.signal.aborted) controller.abort(reason);
  };
  function onParentAbort(this: AbortSignal): void {
    abort(this.reason);
  }

  for (const p of parents) {
    if (p === undefined) continue;
    if (p.aborted) {
      abort(p.reason);
      return { signal: controller.signal, abort, dispose };
    }
    p.addEventListener('abort', onParentAbort, { once: true });
    attached.push(p);
  }

  const deadline = opts.deadline;
  if (deadline !== undefined) {
    const arm = (): void => {
      const remaining = deadline.atMs - Date.now();
      if (remaining <= 0) {
        abort(deadline.reason());
        return;
      }
      timer = setTimeout(arm, Math.min(remaining, MAX_TIMER_MS));
      timer.unref();
    };
    arm();
  }
  return { signal: controller.signal, abort, dispose };
}

/** Settles like `promise`, or rejects with the abort error as soon as `signal` aborts. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      promise.catch(() => undefined);
      reject(abortError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
