import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobStore } from '../../coordinator/src/state/index.js';

describe('BlobStore', () => {
  let dir: string;
  let blobs: BlobStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-blobs-'));
    blobs = new BlobStore(join(dir, 'blobs'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

  it('stores bytes under their SHA-256 at sha256/<first two hex>/<hex>', async () => {
    const bytes = Buffer.from('federated weights');
    const digest = sha256(bytes);
    expect(await blobs.put(bytes)).toEqual({ sha256: digest, size: bytes.length, created: true });
    expect(blobs.path(digest)).toBe(join(dir, 'blobs', 'sha256', digest.slice(0, 2), digest));
    expect(await blobs.has(digest)).toBe(true);
    expect(await blobs.size(digest)).toBe(bytes.length);
    expect(await blobs.read(digest)).toEqual(bytes);
  });

  it('stores the same bytes once and leaves no temp file behind', async () => {
    const bytes = Buffer.from('same bytes twice');
    const first = await blobs.put(bytes);
    const mtime = (await stat(blobs.path(first.sha256))).mtimeMs;
    expect(await blobs.put(bytes)).toEqual({ ...first, created: false });
    expect((await stat(blobs.path(first.sha256))).mtimeMs).toBe(mtime);
    expect(await readdir(join(dir, 'blobs', 'sha256', first.sha256.slice(0, 2)))).toEqual([first.sha256]);
  });

  it('reads ranges for resumable downloads', async () => {
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const { sha256: digest } = await blobs.put(bytes);
    expect(await blobs.readRange(digest, 0, 100)).toEqual(bytes.subarray(0, 100));
    expect(await blobs.readRange(digest, 900, 500)).toEqual(bytes.subarray(900));
    expect((await blobs.readRange(digest, 1000, 10)).length).toBe(0);
    const parts: Buffer[] = [];
    for (let offset = 0; offset < bytes.length; offset += 333) parts.push(await blobs.readRange(digest, offset, 333));
    expect(Buffer.concat(parts)).toEqual(bytes);
    await expect(blobs.readRange(digest, 1001, 1)).rejects.toMatchObject({ code: 'OUT_OF_RANGE' });
    await expect(blobs.readRange(digest, -1, 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('moves a staged file in with putFile', async () => {
    const bytes = Buffer.from('staged update payload');
    const digest = sha256(bytes);
    const staged = join(dir, 'staged.bin');
    await writeFile(staged, bytes);
    await blobs.putFile(staged, digest);
    expect(await blobs.read(digest)).toEqual(bytes);
    await expect(stat(staged)).rejects.toMatchObject({ code: 'ENOENT' });

    // A second copy of a blob already stored is dropped.
    await writeFile(staged, bytes);
    await blobs.putFile(staged, digest);
    await expect(stat(staged)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await blobs.read(digest)).toEqual(bytes);
  });

  it('answers NOT_FOUND for a missing blob and refuses malformed digests', async () => {
    const missing = 'a'.repeat(64);
    expect(await blobs.has(missing)).toBe(false);
    await expect(blobs.read(missing)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(blobs.size(missing)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(blobs.readRange(missing, 0, 1)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(() => blobs.path('../../etc/passwd')).toThrow(/invalid sha256/);
    expect(() => blobs.path('A'.repeat(64))).toThrow(/invalid sha256/);
  });
});
