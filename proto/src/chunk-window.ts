import { CHUNK_WINDOW } from './subjects.js';

/**
 * Chunk publishes awaiting their acknowledgement at once: against one JetStream server more gains
 * nothing (about 150 MB/s with 8). At most CHUNK_WINDOW, so chunks are stored no further out of
 * order than a reader reassembles.
 */
export const MAX_CHUNKS_IN_FLIGHT = Math.min(8, CHUNK_WINDOW);

export interface ChunkWindowOptions {
  /** Chunks to send, by index `0 .. count - 1`. */
  readonly count: number;
  /**
   * Sends chunk `i` and resolves once it is acknowledged (an acked `js.publish`, with whatever
   * retries the caller wants). Called in index order.
   */
  readonly send: (index: number) => Promise<void>;
  /** Chunks in flight at once. @default MAX_CHUNKS_IN_FLIGHT */
  readonly window?: number;
}

/**
 * Sends `count` chunks with a window over indexes: chunk `i` goes out only once chunk
 * `i - window` is acknowledged, so a chunk being retried holds back those more than a window
 * after it. The first failure stops further chunks (those in flight run out) and is thrown once
 * every send has settled; resolves once every chunk is acknowledged.
 */
export async function sendInWindow(opts: ChunkWindowOptions): Promise<void> {
  const window = Math.max(1, Math.min(CHUNK_WINDOW, Math.floor(opts.window ?? MAX_CHUNKS_IN_FLIGHT)));
  // The last `window` sends, by index modulo the window.
  const slots: Array<Promise<void>> = [];
  let failure: { error: unknown } | undefined;
  for (let i = 0; i < opts.count && failure === undefined; i++) {
    const slot = i % window;
    await slots[slot];
    if (failure !== undefined) break;
    slots[slot] = opts.send(i).catch((error: unknown) => {
      failure ??= { error };
    });
  }
  await Promise.all(slots);
  if (failure !== undefined) throw failure.error;
}
