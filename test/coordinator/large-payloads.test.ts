import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors, safetensorsParts, sha256Hex, tensor } from '@tributary/proto';
import { BlobStore, readWholeFile } from '../../coordinator/src/state/blob-store.js';

// Past node's 2 GiB limits: `readFile`, one `FileHandle.read` and one `Hash.update` all stop there.
// The file is sparse (two marked pages and holes), so it costs no disk, only the memory it is read into.
const SIZE = 2 ** 31 + 4096;
const HEAD = Buffer.from('head of a large payload');
const TAIL = Buffer.from('tail past 2 GiB');

describe('payloads past 2 GiB', () => {
  let dir: string;
  let path: string;
  let bytes: Buffer | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-large-'));
    path = join(dir, 'payload');
    const file = await open(path, 'w');
    try {
      await file.write(HEAD, 0, HEAD.length, 0);
      await file.write(TAIL, 0, TAIL.length, 2 ** 31);
      await file.truncate(SIZE);
    } finally {
      await file.close();
    }
  });

  afterAll(async () => {
    bytes = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file longer than 2 GiB whole', { timeout: 120_000 }, async () => {
    bytes = await readWholeFile(path);
    expect(bytes.length).toBe(SIZE);
    expect(bytes.subarray(0, HEAD.length).equals(HEAD)).toBe(true);
    expect(bytes.subarray(2 ** 31, 2 ** 31 + TAIL.length).equals(TAIL)).toBe(true);
  });

  it('hashes bytes longer than 2 GiB to the digest of the same bytes streamed', { timeout: 120_000 }, async () => {
    bytes ??= await readWholeFile(path);
    const streamed = createHash('sha256');
    for await (const chunk of createReadStream(path, { highWaterMark: 16 * 2 ** 20 })) streamed.update(chunk as Buffer);
    expect(sha256Hex(bytes)).toBe(streamed.digest('hex'));
  });

  it('reads back a blob longer than 2 GiB whole', { timeout: 120_000 }, async () => {
    bytes ??= await readWholeFile(path);
    const digest = sha256Hex(bytes);
    bytes = undefined;
    const blobs = new BlobStore(join(dir, 'blobs'));
    await blobs.putFile(path, digest);
    const read = await blobs.read(digest);
    expect(read.length).toBe(SIZE);
    expect(read.subarray(2 ** 31, 2 ** 31 + TAIL.length).equals(TAIL)).toBe(true);
    expect((await blobs.readRange(digest, 2 ** 31, TAIL.length)).equals(TAIL)).toBe(true);
  });
});

describe('model versions written from their tensors', () => {
  it('stores a model from its header and tensors as the same blob as its encoded file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tributary-parts-'));
    try {
      const blobs = new BlobStore(dir);
      const model = { w: tensor('F32', [3, 2], Float32Array.of(1, 2, 3, 4, 5, 6)), b: tensor('F64', [2], Float64Array.of(0.5, -0.5)) };
      const encoded = encodeSafetensors(model, { format: 'pt' });
      const stored = await blobs.putParts(safetensorsParts(model, { format: 'pt' }).parts);
      expect(stored).toEqual({ sha256: sha256Hex(encoded), size: encoded.length, created: true });
      expect((await blobs.read(stored.sha256)).equals(encoded)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
