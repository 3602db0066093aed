import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobStore, INLINE_BLOB_MAX_BYTES, LevelStateStore } from '../../coordinator/src/state/index.js';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('small blobs kept inline in the state store', () => {
  let dir: string;
  let state: LevelStateStore;
  let blobs: BlobStore;

  const open = async (): Promise<void> => {
    state = new LevelStateStore(join(dir, 'state'));
    await state.open();
    blobs = new BlobStore(join(dir, 'blobs'), { inline: state.inlineBlobTable() });
  };

  /** Writes `bytes` inline as the round engine does: in a state batch. */
  const putInline = async (bytes: Uint8Array): Promise<string> => {
    const digest = sha256(bytes);
    const write = blobs.inlineWrite(digest, bytes);
    if (write === undefined) throw new Error('expected an inline write');
    await state.write([write]);
    return digest;
  };

  const blobFiles = async (): Promise<string[]> => readdir(join(dir, 'blobs'), { recursive: true }).catch(() => []);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-inline-blobs-'));
    await open();
  });

  afterEach(async () => {
    await state.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads back an inline blob whole, by range and through a reader, and knows its size', async () => {
    const bytes = Buffer.from('a small site update');
    const digest = await putInline(bytes);
    expect(await blobs.has(digest)).toBe(true);
    expect(await blobs.size(digest)).toBe(bytes.length);
    expect(await blobs.read(digest)).toEqual(bytes);
    expect(await blobs.readRange(digest, 2, 5)).toEqual(bytes.subarray(2, 7));
    const reader = await blobs.openReader(digest);
    const target = new Uint8Array(4);
    await reader.readInto(target, 1);
    await reader.close();
    expect(Buffer.from(target)).toEqual(bytes.subarray(1, 5));
  });

  it('writes no file for an inline blob', async () => {
    await putInline(Buffer.from('kept in LevelDB'));
    expect(await blobFiles()).toEqual([]);
  });

  it('has no file path for an inline blob, and the path of a file blob', async () => {
    const inline = await putInline(Buffer.from('inline'));
    const file = await blobs.put(Buffer.from('as a file'));
    expect(await blobs.filePath(inline)).toBeUndefined();
    expect(await blobs.filePath(file.sha256)).toBe(blobs.path(file.sha256));
  });

  it('keeps an inline blob across a restart', async () => {
    const bytes = Buffer.from('survives a restart');
    const digest = await putInline(bytes);
    await state.close();
    await open();
    expect(await blobs.read(digest)).toEqual(bytes);
  });

  it('removes an inline blob, answering its size, and forgets it across a restart', async () => {
    const bytes = Buffer.from('to be collected');
    const digest = await putInline(bytes);
    expect(await blobs.remove(digest)).toBe(bytes.length);
    expect(await blobs.has(digest)).toBe(false);
    await state.close();
    await open();
    expect(await blobs.has(digest)).toBe(false);
    expect(await blobs.remove(digest)).toBeUndefined();
  });

  it('stores a put of bytes already kept inline as a file too, for readers that open it by path', async () => {
    const bytes = Buffer.from('a model equal to a lone site update');
    const digest = await putInline(bytes);
    expect(await blobs.put(bytes)).toEqual({ sha256: digest, size: bytes.length, created: true });
    expect(await blobs.filePath(digest)).toBe(blobs.path(digest));
  });

  it('removes a blob from both places at once', async () => {
    const bytes = Buffer.from('kept twice');
    const digest = await putInline(bytes);
    await blobs.put(bytes);
    expect(await blobs.remove(digest)).toBe(bytes.length);
    expect(await blobs.has(digest)).toBe(false);
  });

  it('takes back a file without touching the same bytes kept inline', async () => {
    const bytes = Buffer.from('named by a record');
    const digest = await putInline(bytes);
    await blobs.put(bytes);
    expect(await blobs.removeFile(digest)).toBe(bytes.length);
    expect(await blobs.read(digest)).toEqual(bytes);
  });

  it('answers NOT_FOUND for a blob in neither place', async () => {
    await expect(blobs.read('0'.repeat(64))).rejects.toMatchObject({ reason: 'NOT_FOUND' });
  });

  it('still reads blobs stored as files before inline blobs existed', async () => {
    const bytes = Buffer.from('an older data directory');
    const old = await new BlobStore(join(dir, 'blobs')).put(bytes);
    expect(await blobs.has(old.sha256)).toBe(true);
    expect(await blobs.read(old.sha256)).toEqual(bytes);
    expect(await blobs.remove(old.sha256)).toBe(bytes.length);
    expect(await blobFiles()).not.toContain(join('sha256', old.sha256.slice(0, 2), old.sha256));
  });

  it('does not keep a blob over the inline limit inline', () => {
    const big = new Uint8Array(INLINE_BLOB_MAX_BYTES + 1);
    expect(blobs.inlineWrite(sha256(big), big)).toBeUndefined();
  });

  it('keeps nothing inline without an inline table', () => {
    const bytes = Buffer.from('no table');
    expect(new BlobStore(join(dir, 'other')).inlineWrite(sha256(bytes), bytes)).toBeUndefined();
  });

  it('refuses an inline write whose digest is not a SHA-256, writing nothing', async () => {
    const bytes = Buffer.from('bad key');
    await expect(state.write([{ kind: 'inlineBlob', sha256: 'not-a-digest', bytes }])).rejects.toMatchObject({ reason: 'INVALID_ARGUMENT' });
    expect(await blobs.has(sha256(bytes))).toBe(false);
  });
});
