import { describe, expect, it, vi } from 'vitest';
import { Backoff, TributaryError, backoffDelay, retry, sleep } from '@tributary/proto';

const policy = { initialDelayMs: 100, maxDelayMs: 1_000 };
const unavailable = (): TributaryError =>
  new TributaryError({ code: 'UNAVAILABLE', reason: 'UNAVAILABLE', message: 'down' });

describe('backoffDelay', () => {
  it('doubles the ceiling each attempt up to the maximum', () => {
    const top = (): number => 0.999_999;
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, policy, top))).toEqual([99, 199, 399, 799, 999, 999]);
  });

  it('draws the delay uniformly below the ceiling (full jitter)', () => {
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(400);
  });

  it('honours a custom multiplier', () => {
    expect(backoffDelay(2, { ...policy, multiplier: 3 }, () => 0.5)).toBe(450);
  });

  it('stays finite for very large attempt numbers', () => {
    expect(backoffDelay(10_000, policy, () => 0.5)).toBe(500);
  });
});

describe('Backoff', () => {
  it('grows with each delay and starts over after reset', () => {
    const b = new Backoff({ policy, random: () => 0.5 });
    expect([b.nextDelay(), b.nextDelay(), b.nextDelay()]).toEqual([50, 100, 200]);
    expect(b.attempt).toBe(3);
    b.reset();
    expect(b.attempt).toBe(0);
    expect(b.nextDelay()).toBe(50);
  });

  it('gives a retry delay for retryable errors until maxAttempts attempts have failed', () => {
    const b = new Backoff({ policy: { ...policy, maxAttempts: 3 }, random: () => 0.5 });
    expect([b.retryDelay(unavailable()), b.retryDelay(unavailable()), b.retryDelay(unavailable())]).toEqual([50, 100, undefined]);
  });

  it('gives no retry delay for errors that are not retryable', () => {
    const b = new Backoff({ policy, random: () => 0.5 });
    const refused = new TributaryError({ code: 'PERMISSION_DENIED', reason: 'NOT_A_MEMBER', message: 'no' });
    expect(b.retryDelay(refused)).toBeUndefined();
    expect(b.retryDelay(new Error('flaky'), () => true)).toBe(50);
  });

  it('gives no retry delay that would end past maxElapsedMs', () => {
    const b = new Backoff({ policy: { initialDelayMs: 1_000, maxDelayMs: 1_000, maxElapsedMs: 500 }, random: () => 0.9 });
    expect(b.retryDelay(unavailable())).toBeUndefined();
    const c = new Backoff({ policy: { initialDelayMs: 1_000, maxDelayMs: 1_000, maxElapsedMs: 500 }, random: () => 0.1 });
    expect(c.retryDelay(unavailable())).toBe(100);
  });
});

describe('sleep', () => {
  it('resolves after the delay', async () => {
    const started = Date.now();
    await sleep(20);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
  });

  it('rejects with CANCELLED as soon as the signal aborts', async () => {
    const ac = new AbortController();
    const slept = sleep(60_000, ac.signal);
    ac.abort();
    await expect(slept).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('rejects with the abort reason when it is a TributaryError', async () => {
    const reason = new TributaryError({ code: 'DEADLINE_EXCEEDED', reason: 'DEADLINE_PASSED', message: 'late' });
    await expect(sleep(10, AbortSignal.abort(reason))).rejects.toBe(reason);
  });
});

describe('retry', () => {
  const fast = { initialDelayMs: 1, maxDelayMs: 2 };

  it('returns the first success', async () => {
    const fn = vi.fn(async () => 'ok');
    await expect(retry(fn, { policy: fast })).resolves.toBe('ok');
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('retries retryable failures until one succeeds', async () => {
    let calls = 0;
    const result = await retry(
      async (attempt) => {
        calls++;
        if (attempt < 2) throw unavailable();
        return attempt;
      },
      { policy: fast },
    );
    expect(result).toBe(2);
    expect(calls).toBe(3);
  });

  it('does not retry errors that are not retryable', async () => {
    const refused = new TributaryError({ code: 'PERMISSION_DENIED', reason: 'NOT_A_MEMBER', message: 'no' });
    const fn = vi.fn(async () => {
      throw refused;
    });
    await expect(retry(fn, { policy: fast })).rejects.toBe(refused);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('gives up after maxAttempts with the last error', async () => {
    const fn = vi.fn(async () => {
      throw unavailable();
    });
    await expect(retry(fn, { policy: fast, maxAttempts: 4 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(fn).toHaveBeenCalledTimes(4);
  });

  it('uses isRetryable to decide', async () => {
    const fn = vi.fn(async () => {
      throw new Error('flaky');
    });
    await expect(retry(fn, { policy: fast, maxAttempts: 3, isRetryable: () => true })).rejects.toThrow('flaky');
    expect(fn).toHaveBeenCalledTimes(3);
  });

  it('reports each retry with its attempt and delay', async () => {
    const seen: Array<{ attempt: number; delayMs: number }> = [];
    await retry(
      async (attempt) => {
        if (attempt < 2) throw unavailable();
      },
      { policy, random: () => 0, onRetry: ({ attempt, delayMs }) => seen.push({ attempt, delayMs }) },
    );
    expect(seen).toEqual([
      { attempt: 0, delayMs: 0 },
      { attempt: 1, delayMs: 0 },
    ]);
  });

  it('stops waiting and rejects with CANCELLED when the signal aborts', async () => {
    const ac = new AbortController();
    const fn = vi.fn(async () => {
      throw unavailable();
    });
    const running = retry(fn, { policy: { initialDelayMs: 60_000, maxDelayMs: 60_000 }, random: () => 1, signal: ac.signal });
    await vi.waitFor(() => expect(fn).toHaveBeenCalledTimes(1));
    ac.abort();
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('does not start when the signal has already aborted', async () => {
    const fn = vi.fn(async () => 'never');
    await expect(retry(fn, { policy: fast, signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(fn).not.toHaveBeenCalled();
  });
});

/** A clock whose sleeps only move its time forward, so long waits take no real time. */
function fakeClock(startMs = 1_000_000): { now(): number; sleep(ms: number): Promise<void>; slept: number[] } {
  let t = startMs;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      slept.push(ms);
      t += ms;
    },
    slept,
  };
}

describe('retry with a clock', () => {
  const slow = { initialDelayMs: 1_000, maxDelayMs: 10_000 };
  const failing = (): (() => Promise<never>) =>
    vi.fn(async () => {
      throw unavailable();
    });

  it('keeps retrying past the old eight-attempt budget when no limit is given', async () => {
    const clock = fakeClock();
    let calls = 0;
    const result = await retry(
      async () => {
        calls++;
        if (calls < 50) throw unavailable();
        return 'through';
      },
      { policy: slow, random: () => 0.5, clock },
    );
    expect(result).toBe('through');
    expect(calls).toBe(50);
  });

  it('makes maxAttempts attempts in all, the first included', async () => {
    const fn = failing();
    await expect(retry(fn, { policy: { ...slow, maxAttempts: 4 }, random: () => 0.5, clock: fakeClock() })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(fn).toHaveBeenCalledTimes(4);
  });

  it('starts no retry that would begin after maxElapsedMs, and throws the last error', async () => {
    const clock = fakeClock();
    const fn = failing();
    // Delays of 500, 1000, 2000, 4000 ms: the fourth would end at 7.5 s, past 5 s.
    await expect(retry(fn, { policy: { ...slow, maxElapsedMs: 5_000 }, random: () => 0.5, clock })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(clock.slept).toEqual([500, 1_000, 2_000]);
    expect(fn).toHaveBeenCalledTimes(4);
  });

  it('stops with DEADLINE_PASSED when the next attempt would start after the deadline', async () => {
    const clock = fakeClock();
    const fn = failing();
    const err = await retry(fn, { policy: slow, random: () => 0.5, clock, deadlineAtMs: clock.now() + 3_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'DEADLINE_PASSED', retryable: false });
    expect((err as Error).message).toMatch(/^gave up after 3 failed attempts: the deadline \(.+\) passes before the next one; last failure: down$/);
    expect((err as Error).cause).toMatchObject({ code: 'UNAVAILABLE' });
    expect(clock.slept).toEqual([500, 1_000]);
  });

  it('does not look at the deadline when the first attempt succeeds', async () => {
    const clock = fakeClock();
    await expect(retry(async () => 'ok', { policy: slow, clock, deadlineAtMs: clock.now() - 1 })).resolves.toBe('ok');
  });

  it('fails at once on an error that is not retryable, whatever the limits', async () => {
    const revoked = new TributaryError({ code: 'PERMISSION_DENIED', reason: 'KEY_REVOKED', message: 'revoked' });
    const fn = vi.fn(async () => {
      throw revoked;
    });
    const clock = fakeClock();
    await expect(retry(fn, { policy: slow, clock, deadlineAtMs: clock.now() + 60_000 })).rejects.toBe(revoked);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(clock.slept).toEqual([]);
  });

  it('stops with the abort error when the signal aborts between attempts', async () => {
    const ac = new AbortController();
    const clock = fakeClock();
    let calls = 0;
    const fn = async (): Promise<never> => {
      calls++;
      if (calls === 3) ac.abort();
      throw unavailable();
    };
    await expect(retry(fn, { policy: slow, random: () => 0.5, clock, signal: ac.signal })).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(calls).toBe(3);
  });
});
