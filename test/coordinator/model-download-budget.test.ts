import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DownloadModelRequest__Output, ModelChunk__Output } from '@tributary/proto';
import { encodeSafetensors, tensor } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ByteBudget, whenSentOf } from '../../coordinator/src/api/download-budget.js';
import { modelChunks } from '../../coordinator/src/api/model-download.js';
import { SharedModelChunks } from '../../coordinator/src/api/shared-model-chunks.js';
import { BlobStore } from '../../coordinator/src/state/blob-store.js';
import type { StateStore } from '../../coordinator/src/state/index.js';
import { startStack, type Stack } from '../helpers/stack.js';

const CHUNK = 64 * 1024;
const MODEL_BYTES = 20 * CHUNK + 123;
const KEEP = 64 * CHUNK;

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
    const stream = modelChunks(request, { state, blobs, downloads, chunks: new SharedModelChunks(KEEP) }, abort.signal)[Symbol.asyncIterator]();
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
    const streams = aborts.map((abort) => modelChunks(request, { state, blobs, downloads, chunks: new SharedModelChunks(KEEP) }, abort.signal)[Symbol.asyncIterator]());
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
    const stream = modelChunks(request, { state, blobs, downloads, chunks: new SharedModelChunks(KEEP) }, abort.signal)[Symbol.asyncIterator]();
    await take(stream, 2);
    abort.abort();
    expect(downloads.heldBytes).toBe(0);
    await stream.return?.(undefined);
  });

  it('sends the whole payload in order when each chunk is reported sent', async () => {
    const downloads = new ByteBudget(2 * CHUNK);
    const stream = modelChunks(request, { state, blobs, downloads, chunks: new SharedModelChunks(KEEP) }, new AbortController().signal);
    const parts: Buffer[] = [];
    for await (const chunk of stream) {
      parts.push(Buffer.from(chunk.data));
      whenSentOf(chunk)?.();
    }
    expect(createHash('sha256').update(Buffer.concat(parts)).digest('hex')).toBe(sha256);
    expect(downloads.heldBytes).toBe(0);
  });
});

describe('modelChunks shared by downloads of the same version', () => {
  let dir: string;
  let blobs: BlobStore;
  let state: StateStore;
  let reads = 0;
  // Two versions of the same size, so their chunks have the same offsets and lengths.
  const payloads = [randomBytes(MODEL_BYTES), randomBytes(MODEL_BYTES)];
  const digests = payloads.map((p) => createHash('sha256').update(p).digest('hex'));
  const request = (version: number, offset = 0): DownloadModelRequest__Output => ({ federation: 'f', version, offset, chunkSize: CHUNK });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'model-download-shared-'));
    const store = new BlobStore(dir);
    for (const p of payloads) await store.put(p);
    // The real blob store, with its chunk reads counted.
    blobs = {
      openReader: async (sha: string) => {
        const reader = await store.openReader(sha);
        return {
          readInto: (into: Buffer, at: number) => {
            reads++;
            return reader.readInto(into, at);
          },
          close: () => reader.close(),
        };
      },
    } as unknown as BlobStore;
    state = {
      getFederation: async () => ({ name: 'f', latestVersion: 2 }),
      getModelVersion: async (_f: string, version: number) => ({ version, size: MODEL_BYTES, sha256: digests[version - 1] }),
    } as unknown as StateStore;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Pulls a download to its end, reporting each chunk sent a turn later, as a transport does. */
  async function drain(stream: AsyncIterable<ModelChunk__Output>): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of stream) {
      parts.push(Buffer.from(chunk.data));
      const sent = whenSentOf(chunk);
      setImmediate(() => sent?.());
    }
    // The last chunk is reported sent a turn after the download ends.
    await new Promise((r) => setImmediate(r));
    return Buffer.concat(parts);
  }

  it('gives each of forty concurrent downloads the same bytes, reading each chunk once', async () => {
    const downloads = new ByteBudget(32 * CHUNK);
    const chunks = new SharedModelChunks(KEEP);
    reads = 0;
    const got = await Promise.all(Array.from({ length: 40 }, () => drain(modelChunks(request(1), { state, blobs, downloads, chunks }, new AbortController().signal))));
    for (const bytes of got) {
      expect(bytes.equals(payloads[0] as Buffer)).toBe(true);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(digests[0]);
    }
    expect(reads).toBe(21);
    expect(chunks.uniqueBytes).toBe(0);
    expect(downloads.heldBytes).toBe(0);
  });

  it('resumes a download from an offset alongside downloads from the start', async () => {
    const downloads = new ByteBudget(32 * CHUNK);
    const chunks = new SharedModelChunks(KEEP);
    const from = 3 * CHUNK + 17;
    const [whole, resumed, again] = await Promise.all([request(1), request(1, from), request(1)].map((r) => drain(modelChunks(r, { state, blobs, downloads, chunks }, new AbortController().signal))));
    expect(whole?.equals(payloads[0] as Buffer)).toBe(true);
    expect(again?.equals(payloads[0] as Buffer)).toBe(true);
    expect(resumed?.equals((payloads[0] as Buffer).subarray(from))).toBe(true);
    expect(chunks.uniqueBytes).toBe(0);
  });

  it('does not mix the chunks of different versions downloaded at once', async () => {
    const downloads = new ByteBudget(32 * CHUNK);
    const chunks = new SharedModelChunks(KEEP);
    const versions = [1, 2, 1, 2, 2, 1];
    const got = await Promise.all(versions.map((v) => drain(modelChunks(request(v), { state, blobs, downloads, chunks }, new AbortController().signal))));
    got.forEach((bytes, i) => {
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(digests[(versions[i] as number) - 1]);
    });
  });

  it('releases the share of a cancelled download while others go on', async () => {
    const downloads = new ByteBudget(32 * CHUNK);
    const chunks = new SharedModelChunks(KEEP);
    const abort = new AbortController();
    const cancelled = modelChunks(request(1), { state, blobs, downloads, chunks }, abort.signal)[Symbol.asyncIterator]();
    // Two chunks taken and never reported sent, then the download is cancelled.
    await cancelled.next();
    await cancelled.next();
    const other = drain(modelChunks(request(1), { state, blobs, downloads, chunks }, new AbortController().signal));
    abort.abort();
    await cancelled.return?.(undefined);
    expect((await other).equals(payloads[0] as Buffer)).toBe(true);
    expect(chunks.uniqueBytes).toBe(0);
    expect(downloads.heldBytes).toBe(0);
  });

  it('bounds unsent bytes by the shared budget however many downloads share the chunks', async () => {
    const downloads = new ByteBudget(5 * CHUNK);
    const chunks = new SharedModelChunks(KEEP);
    const aborts = Array.from({ length: 6 }, () => new AbortController());
    const streams = aborts.map((abort) => modelChunks(request(1), { state, blobs, downloads, chunks }, abort.signal)[Symbol.asyncIterator]());
    const pulls = streams.map(async (s) => {
      await s.next();
      await s.next();
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(downloads.heldBytes).toBe(5 * CHUNK);
    expect(chunks.uniqueBytes).toBeLessThanOrEqual(2 * CHUNK);
    for (const abort of aborts) abort.abort();
    await Promise.all(pulls);
    await Promise.all(streams.map((s) => s.return?.(undefined)));
    expect(chunks.uniqueBytes).toBe(0);
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
