import { describe, expect, it } from 'vitest';
import { VerificationSlots, type ReleaseSlot } from '../../coordinator/src/ingest/verification-slots.js';

const KiB = 1024;

/** Resolves to whether `p` settled within a turn of the event loop. */
async function settledSoon<T>(p: Promise<T>): Promise<boolean> {
  let settled = false;
  void p.then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  return settled;
}

function slots(): VerificationSlots {
  return new VerificationSlots({ large: 2, small: 8, smallPayloadBytes: 256 * KiB, smallBytes: 1024 * KiB });
}

describe('the ingest verification slots', () => {
  it('admits small updates beyond the large bound', async () => {
    const s = slots();
    const held = await Promise.all([1, 2, 3, 4, 5].map(() => s.acquire(10 * KiB)));
    expect(held).toHaveLength(5);
    expect(s.inUse).toEqual({ large: 0, small: 5, smallBytes: 50 * KiB });
  });

  it('keeps large updates to the large bound', async () => {
    const s = slots();
    await s.acquire(4096 * KiB);
    await s.acquire(4096 * KiB);
    expect(await settledSoon(s.acquire(4096 * KiB))).toBe(false);
  });

  it('holds small updates to the byte budget before the count', async () => {
    const s = slots();
    const first = await Promise.all([1, 2, 3, 4].map(() => s.acquire(256 * KiB)));
    const fifth = s.acquire(1 * KiB);
    expect(await settledSoon(fifth)).toBe(false);
    expect(s.inUse).toEqual({ large: 0, small: 4, smallBytes: 1024 * KiB });
    (first[0] as ReleaseSlot)();
    expect(await settledSoon(fifth)).toBe(true);
    expect(s.inUse).toEqual({ large: 0, small: 4, smallBytes: 769 * KiB });
  });

  it('holds small updates to the count when their bytes fit', async () => {
    const s = slots();
    await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(() => s.acquire(1)));
    expect(await settledSoon(s.acquire(1))).toBe(false);
  });

  it('does not admit a claim over the small size as small', async () => {
    const s = slots();
    expect(s.isSmall(256 * KiB)).toBe(true);
    expect(s.isSmall(256 * KiB + 1)).toBe(false);
    await s.acquire(256 * KiB + 1);
    expect(s.inUse).toEqual({ large: 1, small: 0, smallBytes: 0 });
  });

  it('frees a slot once however often it is released', async () => {
    const s = slots();
    const release = await s.acquire(100 * KiB);
    release();
    release();
    expect(s.inUse).toEqual({ large: 0, small: 0, smallBytes: 0 });
  });

  it('serves waiting small updates in arrival order', async () => {
    const s = new VerificationSlots({ large: 1, small: 1, smallPayloadBytes: 256 * KiB, smallBytes: 256 * KiB });
    const order: string[] = [];
    const first = await s.acquire(1);
    const a = s.acquire(2).then((r) => (order.push('a'), r));
    const b = s.acquire(3).then((r) => (order.push('b'), r));
    first();
    (await a)();
    await b;
    expect(order).toEqual(['a', 'b']);
  });

  it('sends every update through the large bound when the small budget is off', async () => {
    const s = new VerificationSlots({ large: 1, small: 0, smallPayloadBytes: 256 * KiB, smallBytes: 0 });
    expect(s.capacity).toBe(1);
    await s.acquire(1);
    expect(await settledSoon(s.acquire(1))).toBe(false);
  });

  it('refuses a byte budget that cannot hold one small payload', () => {
    expect(() => new VerificationSlots({ large: 1, small: 4, smallPayloadBytes: 256 * KiB, smallBytes: 100 })).toThrow(/byte budget/);
  });
});
