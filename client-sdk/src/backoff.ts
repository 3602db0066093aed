import { TributaryError } from '@tributary/proto';
import { abortError, throwIfAborted } from './signals.js';

/** Exponential backoff with full jitter: the delay before retry `n` is uniform in [0, min(max, initial * multiplier^n)). */
export interface BackoffPolicy {
  /** Ceiling of the first delay, in ms. */
  readonly initialDelayMs: number;
  /** Largest ceiling, in ms. */
  readonly maxDelayMs: number;
  /** Growth of the ceiling per attempt. @default 2 */
  readonly multiplier?: number;
}

/** The delay before retry number `attempt` (0-based) under `policy`. */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * Math.pow(policy.multiplier ?? 2, Math.max(0, attempt)),
  );
  return Math.floor(random() * ceiling);
}

/** Resolves after `ms`, or rejects with the abort error as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Stateful backoff for long-lived loops (stream reconnects): `reset()` after each success. */
export class Backoff {
  readonly #policy: BackoffPolicy;
  readonly #random: () => number;
  #attempt = 0;

  constructor(policy: BackoffPolicy, random: () => number = Math.random) {
    this.#policy = policy;
    this.#random = random;
  }

  /** Failures since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The next delay; each call grows the ceiling. */
  nextDelay(): number {
    return backoffDelay(this.#attempt++, this.#policy, this.#random);
  }

  reset(): void {
    this.#attempt = 0;
  }

  /** Sleeps for `nextDelay()`; rejects when `signal` aborts. Returns the delay slept. */
  async wait(signal?: AbortSignal): Promise<number> {
    const delayMs = this.nextDelay();
    await sleep(delayMs, signal);
    return delayMs;
  }
}

export interface RetryOptions {
  readonly policy: BackoffPolicy;
  /** Attempts in all, the first included. @default Infinity */
  readonly maxAttempts?: number;
  /** Stops retrying (and sleeping) when it aborts; the abort error is thrown. */
  readonly signal?: AbortSignal;
  /** Which errors are worth another attempt. @default `TributaryError.from(err).retryable` */
  readonly isRetryable?: (err: unknown) => boolean;
  /** Called before each sleep, e.g. to log the failure. */
  readonly onRetry?: (info: { error: unknown; attempt: number; delayMs: number }) => void;
  /** Source of jitter. @default Math.random */
  readonly random?: () => number;
}

/**
 * Runs `fn` until it succeeds, the error is not retryable, attempts run out, or the signal
 * aborts. The last error is rethrown as is (callers normalise it); an abort throws the abort error.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const maxAttempts = opts.maxAttempts ?? Infinity;
  const isRetryable = opts.isRetryable ?? ((err: unknown) => TributaryError.from(err).retryable);
  const backoff = new Backoff(opts.policy, opts.random);
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(opts.signal);
    try {
      return await fn(attempt);
    } catch (error) {
      if (opts.signal?.aborted === true) throw abortError(opts.signal);
      if (attempt + 1 >= maxAttempts || !isRetryable(error)) throw error;
      const delayMs = backoff.nextDelay();
      opts.onRetry?.({ error, attempt, delayMs });
      await sleep(delayMs, opts.signal);
    }
  }
}
