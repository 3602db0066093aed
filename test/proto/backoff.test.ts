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
    const b = new Backoff(policy, () => 0.5);
    expect([b.nextDelay(), b.nextDelay(), b.nextDelay()]).toEqual([50, 100, 200]);
    expect(b.attempt).toBe(3);
    b.reset();
    expect(b.attempt).toBe(0);
    expect(b.nextDelay()).toBe(50);
  });

  it('gives a retry delay for retryable errors until maxAttempts attempts have failed', () => {
    const b = new Backoff({ ...policy, maxAttempts: 3 }, () => 0.5);
    expect([b.retryDelay(unavailable()), b.retryDelay(unavailable()), b.retryDelay(unavailable())]).toEqual([50, 100, undefined]);
  });

  it('gives no retry delay for errors that are not retryable', () => {
    const b = new Backoff(policy, () => 0.5);
    const refused = new TributaryError({ code: 'PERMISSION_DENIED', reason: 'NOT_A_MEMBER', message: 'no' });
    expect(b.retryDelay(refused)).toBeUndefined();
    expect(b.retryDelay(new Error('flaky'), () => true)).toBe(50);
  });

  it('gives no retry delay that would end past maxElapsedMs', () => {
    const b = new Backoff({ initialDelayMs: 1_000, maxDelayMs: 1_000, maxElapsedMs: 500 }, () => 0.9);
    expect(b.retryDelay(unavailable())).toBeUndefined();
    const c = new Backoff({ initialDelayMs: 1_000, maxDelayMs: 1_000, maxElapsedMs: 500 }, () => 0.1);
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
