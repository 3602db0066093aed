import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DownloadModelRequest__Output, ModelChunk__Output } from '@tributary/proto';
import { encodeSafetensors, tensor } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ByteBudget, whenSentOf } from '../../coordinator/src/api/download-budget.js';
import { modelChunks } from '../../coordinator/src/api/model-download.js';
import { BlobStore } from '../../coordinator/src/state/blob-store.js';
import type { StateStore } from '../../coordinator/src/state/index.js';
import { startStack, type Stack } from '../helpers/stack.js';

const CHUNK = 64 * 1024;
const MODEL_BYTES = 20 * CHUNK + 123;

describe('ByteBudget', () => {
  it('holds no more than its limit', async () => {
    const budget = new ByteBudget(100);
    expect(await budget.acquire(budget.ticket(), 60)).toBe(true);
    let second = false;
    const waiting = budget.acquire(budget.ticket(), 60).then((ok) => (second = ok));
    await new Promise((r) => setImmediate(r));
    expect(second).toBe(false);
    expect(budget.heldBytes).toBe(60);
    budget.release(60);
    await waiting;
    expect(second).toBe(true);
    expect(budget.heldBytes).toBe(60);
  });

  it('serves the earlier ticket first, whatever the order of asking', async () => {
    const budget = new ByteBudget(10);
    const early = budget.ticket();
    const late = budget.ticket();
    await budget.acquire(budget.ticket(), 10);
    const order: string[] = [];
    const a = budget.acquire(late, 10).then(() => order.push('late'));
    const b = budget.acquire(early, 10).then(() => order.push('early'));
    budget.release(10);
    await b;
    budget.release(10);
    await a;
    expect(order).toEqual(['early', 'late']);
  });

  it('gives nothing to a waiter whose signal fires, and lets the next one in', async () => {
    const budget = new ByteBudget(10);
    await budget.acquire(budget.ticket(), 10);
    const abort = new AbortController();
    const cancelled = budget.acquire(budget.ticket(), 10, abort.signal);
    const next = budget.acquire(budget.ticket(), 10);
    abort.abort();
    expect(await cancelled).toBe(false);
    budget.release(10);
    expect(await next).toBe(true);
    expect(budget.heldBytes).toBe(10);
  });
});

describe('modelChunks with a bounded send queue', () => {
  let dir: string;
  let blobs: BlobStore;
  let state: StateStore;
  const payload = randomBytes(MODEL_BYTES);
  const sha256 = createHash('sha256').update(payload).digest('hex');
  const request: DownloadModelRequest__Output = { federation: 'f', version: 1, offset: 0, chunkSize: CHUNK };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'model-download-'));
    blobs = new BlobStore(dir);
    await blobs.put(payload);
    // Only the two reads a download makes; the blob store and its file are real.
    state = {
      getFederation: async () => ({ name: 'f', latestVersion: 1 }),
      getModelVersion: async () => ({ version: 1, size: payload.length, sha256 }),
    } as unknown as StateStore;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function take(stream: AsyncIterator<ModelChunk__Output>, count: number): Promise<ModelChunk__Output[]> {
    const out: ModelChunk__Output[] = [];
    for (let i = 0; i < count; i++) {
      const next = await stream.next();
      if (next.done === true) break;
      out.push(next.value);
    }
    return out;
  }

  it('stops reading a download whose chunks are not sent after two chunks', async () => {
    const downloads = new ByteBudget(32 * CHUNK);
    const abort = new AbortController();
    const stream = modelChunks(request, { state, blobs, downloads }, abort.signal)[Symbol.asyncIterator]();
    expect((await take(stream, 2)).length).toBe(2);
    let third = false;
    const pending = stream.next().then(() => (third = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(third).toBe(false);
    expect(downloads.heldBytes).toBe(2 * CHUNK);
    abort.abort();
    await pending;
    await stream.return?.(undefined);
  });

  it('never holds more than the shared bound for many slow downloads together', async () => {
    const downloads = new ByteBudget(5 * CHUNK);
    const aborts = Array.from({ length: 6 }, () => new AbortController());
    const streams = aborts.map((abort) => modelChunks(request, { state, blobs, downloads }, abort.signal)[Symbol.asyncIterator]());
    const pulls = streams.map((s) => take(s, 2));
    await new Promise((r) => setTimeout(r, 100));
    expect(downloads.heldBytes).toBe(5 * CHUNK);
    for (const abort of aborts) abort.abort();
    await Promise.all(pulls);
    await Promise.all(streams.map((s) => s.return?.(undefined)));
  });

  it('gives back what an aborted download held', async () => {
    const downloads = new ByteBudget(32 * CHUNK);
    const abort = new AbortController();
    const stream = modelChunks(request, { state, blobs, downloads }, abort.signal)[Symbol.asyncIterator]();
    await take(stream, 2);
    abort.abort();
    expect(downloads.heldBytes).toBe(0);
    await stream.return?.(undefined);
  });

  it('sends the whole payload in order when each chunk is reported sent', async () => {
    const downloads = new ByteBudget(2 * CHUNK);
    const stream = modelChunks(request, { state, blobs, downloads }, new AbortController().signal);
    const parts: Buffer[] = [];
    for await (const chunk of stream) {
      parts.push(Buffer.from(chunk.data));
      whenSentOf(chunk)?.();
    }
    expect(createHash('sha256').update(Buffer.concat(parts)).digest('hex')).toBe(sha256);
    expect(downloads.heldBytes).toBe(0);
  });
});

describe('concurrent model downloads over gRPC', () => {
  let stack: Stack;
  const weights = new Float32Array(3 * 1024 * 1024);
  for (let i = 0; i < weights.length; i++) weights[i] = Math.sin(i);
  const model = encodeSafetensors({ w: tensor('F32', [weights.length], weights) });
  const digest = createHash('sha256').update(model).digest('hex');

  beforeAll(async () => {
    stack = await startStack();
    await stack.admin.createFederation({ name: 'many', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 60 }, initialModel: model });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('gives every one of twelve concurrent downloads of a version the same, digest-checked bytes', async () => {
    const got = await Promise.all(Array.from({ length: 12 }, () => stack.admin.downloadModel('many', 1)));
    for (const g of got) {
      expect(g.sha256).toBe(digest);
      expect(createHash('sha256').update(g.bytes).digest('hex')).toBe(digest);
    }
  });
});
