import { Reason, TributaryError } from '../errors.js';
import { abortError, throwIfAborted } from './abort.js';

/**
 * The one retry policy of Tributary's clients: exponential backoff with full jitter (the delay
 * before retry `n` is uniform in [0, min(maxDelayMs, initialDelayMs * multiplier^n))), bounded by
 * attempts and by elapsed time. Only errors that are `retryable` are retried.
 */
export interface BackoffPolicy {
  /** Ceiling of the first delay, in ms. */
  readonly initialDelayMs: number;
  /** Largest ceiling, in ms. */
  readonly maxDelayMs: number;
  /** Growth of the ceiling per attempt. @default 2 */
  readonly multiplier?: number;
  /** Attempts in all, the first included, before giving up. @default Infinity */
  readonly maxAttempts?: number;
  /** Time from the first attempt after which no retry starts, in ms. @default Infinity */
  readonly maxElapsedMs?: number;
}

/** What sites and admin clients use unless told otherwise. */
export const DEFAULT_BACKOFF_POLICY: Readonly<Required<Omit<BackoffPolicy, 'maxElapsedMs'>>> = Object.freeze({
  initialDelayMs: 200,
  maxDelayMs: 10_000,
  multiplier: 2,
  maxAttempts: 8,
});

/** True for errors worth another attempt: `TributaryError.from(err).retryable`. */
export function isRetryable(err: unknown): boolean {
  return TributaryError.from(err).retryable;
}

/** The delay before retry number `attempt` (0-based) under `policy`. */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * Math.pow(policy.multiplier ?? 2, Math.max(0, attempt)));
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

/** What a `Backoff` follows, and its sources of jitter and time. */
export interface BackoffOptions {
  readonly policy: BackoffPolicy;
  /** Source of jitter. @default Math.random */
  readonly random?: () => number;
  /** Source of time, ms. @default Date.now */
  readonly now?: () => number;
}

/**
 * Backoff state for one operation or long-lived loop (stream reconnects, resumable downloads):
 * `retryDelay(err)` after each failure, `reset()` after progress.
 */
export class Backoff {
  readonly #policy: BackoffPolicy;
  readonly #random: () => number;
  readonly #now: () => number;
  #attempt = 0;
  #startedAtMs: number;

  constructor(opts: BackoffOptions) {
    this.#policy = opts.policy;
    this.#random = opts.random ?? Math.random;
    this.#now = opts.now ?? Date.now;
    this.#startedAtMs = this.#now();
  }

  /** Failures since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The next delay; each call grows the ceiling. No limit is checked (see `retryDelay`). */
  nextDelay(): number {
    return backoffDelay(this.#attempt++, this.#policy, this.#random);
  }

  /**
   * Counts a failure and returns the delay before the next attempt, or undefined when the
   * policy says to give up: the error is not retryable, `maxAttempts` attempts failed since the
   * last reset, or the delay would end past `maxElapsedMs`.
   */
  retryDelay(error: unknown, retryable: (err: unknown) => boolean = isRetryable): number | undefined {
    if (!retryable(error)) return undefined;
    if (this.#attempt + 1 >= (this.#policy.maxAttempts ?? Infinity)) return undefined;
    const delayMs = this.nextDelay();
    if (this.#now() + delayMs - this.#startedAtMs > (this.#policy.maxElapsedMs ?? Infinity)) return undefined;
    return delayMs;
  }

  /** Starts over, attempts and elapsed time alike (after progress). */
  reset(): void {
    this.#attempt = 0;
    this.#startedAtMs = this.#now();
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
  /** Attempts in all, the first included. @default `policy.maxAttempts` */
  readonly maxAttempts?: number;
  /** Stops retrying (and sleeping) when it aborts; the abort error is thrown. */
  readonly signal?: AbortSignal;
  /** Which errors are worth another attempt. @default `TributaryError.from(err).retryable` */
  readonly isRetryable?: (err: unknown) => boolean;
  /** Called before each sleep, e.g. to log the failure. */
  readonly onRetry?: (info: { error: unknown; attempt: number; delayMs: number }) => void;
  /** Source of jitter. @default Math.random */
  readonly random?: () => number;
  /**
   * Epoch ms after which another attempt is pointless (an upload past its round's deadline):
   * when the next attempt would start at or after it, retry stops with DEADLINE_PASSED, whose
   * cause is the last failure.
   */
  readonly deadlineAtMs?: number;
  /** Time and sleeping, replaced in tests. @default Date.now and `sleep` */
  readonly clock?: RetryClock;
}

/** The time source of `retry`. */
export interface RetryClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const SYSTEM_CLOCK: RetryClock = { now: () => Date.now(), sleep };

/**
 * Runs `fn` until it succeeds, the error is not retryable, the policy gives up (`maxAttempts`,
 * `maxElapsedMs`), the deadline would pass before the next attempt, or the signal aborts. The
 * last error is rethrown as is (callers normalise it); a deadline throws DEADLINE_PASSED; an
 * abort throws the abort error.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const policy = opts.maxAttempts === undefined ? opts.policy : { ...opts.policy, maxAttempts: opts.maxAttempts };
  const clock = opts.clock ?? SYSTEM_CLOCK;
  const backoff = new Backoff({ policy, random: opts.random, now: () => clock.now() });
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(opts.signal);
    try {
      return await fn(attempt);
    } catch (error) {
      throwIfAborted(opts.signal);
      const delayMs = backoff.retryDelay(error, opts.isRetryable);
      if (delayMs === undefined) throw error;
      if (opts.deadlineAtMs !== undefined && clock.now() + delayMs >= opts.deadlineAtMs) {
        throw deadlinePassed(error, attempt + 1, opts.deadlineAtMs);
      }
      opts.onRetry?.({ error, attempt, delayMs });
      await clock.sleep(delayMs, opts.signal);
    }
  }
}

function deadlinePassed(last: unknown, attempts: number, deadlineAtMs: number): TributaryError {
  const cause = TributaryError.from(last);
  return TributaryError.of(
    Reason.DEADLINE_PASSED,
    `gave up after ${attempts} failed attempt${attempts === 1 ? '' : 's'}: the deadline (${new Date(deadlineAtMs).toISOString()}) passes before the next one; last failure: ${cause.message}`,
    { retryable: false, cause: last },
  );
}
