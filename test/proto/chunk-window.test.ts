import { describe, expect, it } from 'vitest';
import { MAX_CHUNKS_IN_FLIGHT, sendInWindow } from '@tributary/proto';

/** A send whose acknowledgements the test gives by hand. */
function manualAcks() {
  const started: number[] = [];
  const acks = new Map<number, { ack: () => void; fail: (e: Error) => void }>();
  const acked = new Set<number>();
  const send = (i: number): Promise<void> => {
    started.push(i);
    return new Promise<void>((resolve, reject) => acks.set(i, { ack: () => (acked.add(i), resolve()), fail: reject }));
  };
  const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
  return { started, acks, acked, send, settle };
}

describe('sending chunks in a window', () => {
  it('sends chunk i only once chunk i - window is acknowledged, even while an earlier one is outstanding', async () => {
    const m = manualAcks();
    const done = sendInWindow({ count: 6, window: 2, send: m.send });
    await m.settle();
    expect(m.started).toEqual([0, 1]);
    m.acks.get(1)?.ack();
    await m.settle();
    // Chunk 1 is acked but chunk 0 is not: chunk 2 waits for chunk 0.
    expect(m.started).toEqual([0, 1]);
    m.acks.get(0)?.ack();
    await m.settle();
    expect(m.started).toEqual([0, 1, 2, 3]);
    for (const i of [2, 3]) m.acks.get(i)?.ack();
    await m.settle();
    for (const i of [4, 5]) m.acks.get(i)?.ack();
    await done;
    expect(m.acked.size).toBe(6);
  });

  it('keeps at most MAX_CHUNKS_IN_FLIGHT in flight by default', async () => {
    let inFlight = 0;
    let most = 0;
    await sendInWindow({
      count: 40,
      send: async () => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight -= 1;
      },
    });
    expect(most).toBe(MAX_CHUNKS_IN_FLIGHT);
  });

  it('stops at the first failure and throws it once the chunks in flight have settled', async () => {
    const m = manualAcks();
    const done = sendInWindow({ count: 10, window: 2, send: m.send });
    const outcome = done.then(() => 'resolved', (e: unknown) => e);
    await m.settle();
    m.acks.get(0)?.fail(new Error('no ack'));
    await m.settle();
    expect(m.started).toEqual([0, 1]);
    m.acks.get(1)?.ack();
    expect(await outcome).toMatchObject({ message: 'no ack' });
    expect(m.started).toEqual([0, 1]);
  });

  it('sends nothing for no chunks', async () => {
    const m = manualAcks();
    await sendInWindow({ count: 0, send: m.send });
    expect(m.started).toEqual([]);
  });
});
