import { createHash, randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Reason, TributaryError, isSha256Hex } from '@tributary/proto';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../config/private-file.js';


/** Payloads up to this size may be kept inline, in the state store, rather than as files. */
export const INLINE_BLOB_MAX_BYTES = 256 * 1024;

/**
 * Small blobs kept in the state store (a LevelDB sublevel), written in the same synced batch as
 * the record naming them: a group of small updates then costs one sync, not one a payload.
 */
export interface InlineBlobTable {
  get(sha256: string): Promise<Uint8Array | undefined>;
  /** Deletes it; its size in bytes, or undefined when it was not there. */
  remove(sha256: string): Promise<number | undefined>;
  /** The digests of every inline blob, ascending. */
  digests(): Promise<string[]>;
}

export interface BlobStoreOptions {
  /** Where small blobs live inline; without it every blob is a file. */
  inline?: InlineBlobTable;
  /** The largest blob kept inline. @default INLINE_BLOB_MAX_BYTES */
  inlineMaxBytes?: number;
}

/**
 * Content-addressed blobs: the blob with digest `abcd...` lives at `<dir>/sha256/ab/abcd...`,
 * or, when small and written with a state record (`inlineWrite`), inline in the state store.
 * Readers look in both places. A file blob appears whole or not at all (temp file, fsync,
 * rename), so a reader never sees a partial payload and a crash leaves at most a stray temp file.
 */
export class BlobStore {
  private readonly inline: InlineBlobTable | undefined;
  private readonly inlineMaxBytes: number;

  constructor(
    readonly dir: string,
    opts: BlobStoreOptions = {},
  ) {
    this.inline = opts.inline;
    this.inlineMaxBytes = opts.inlineMaxBytes ?? INLINE_BLOB_MAX_BYTES;
  }

  /**
   * The state write that keeps `bytes` inline under `sha256` (already verified, not hashed
   * again), to go in the batch of the record that names it; undefined when the blob is too big
   * for inline or this store keeps none (then `put` it as a file).
   */
  inlineWrite(sha256: string, bytes: Uint8Array): { kind: 'inlineBlob'; sha256: string; bytes: Uint8Array } | undefined {
    if (this.inline === undefined || bytes.byteLength > this.inlineMaxBytes) return undefined;
    this.path(sha256);
    return { kind: 'inlineBlob', sha256, bytes };
  }

  /** The digests of the blobs kept inline, ascending (none without an inline table). */
  inlineDigests(): Promise<string[]> {
    return this.inline?.digests() ?? Promise.resolve([]);
  }

  /** The file of a blob kept as a file; undefined when it is inline or absent. */
  async filePath(sha256: string): Promise<string | undefined> {
    const path = this.path(sha256);
    return (await this.hasFile(sha256)) ? path : undefined;
  }

  /** Path of a blob (whether or not it exists). */
  path(sha256: string): string {
    if (!isSha256Hex(sha256)) {
      throw TributaryError.invalidArgument(`invalid sha256 "${sha256}": expected 64 lowercase hex characters`);
    }
    return join(this.dir, 'sha256', sha256.slice(0, 2), sha256);
  }

  /** Stores bytes under their digest; storing the same bytes again changes nothing. */
  put(bytes: Uint8Array): Promise<{ sha256: string; size: number; created: boolean }> {
    return this.putParts([bytes]);
  }

  /**
   * Stores `parts`, one after another, as one blob (e.g. a model's header and tensors, with no
   * buffer of the whole file), hashed and written in slices, so a blob may pass 2 GiB.
   * `created` says whether the blob is new (false when the same bytes were stored already).
   */
  async putParts(parts: readonly Uint8Array[]): Promise<{ sha256: string; size: number; created: boolean }> {
    return this.writeParts(parts, await sha256HexInSteps(parts));
  }

  /**
   * Stores bytes the caller has already verified against `sha256` (an update's payload checked
   * against its signed manifest), without hashing them again. True when the blob is new.
   */
  async putVerified(bytes: Uint8Array, sha256: string): Promise<boolean> {
    return (await this.writeParts([bytes], sha256)).created;
  }

  private async writeParts(parts: readonly Uint8Array[], sha256: string): Promise<{ sha256: string; size: number; created: boolean }> {
    const size = parts.reduce((n, p) => n + p.byteLength, 0);
    const target = this.path(sha256);
    // Always a file (model readers open it by path), also when the same bytes are kept inline.
    const created = !(await this.hasFile(sha256));
    if (created) {
      const temp = await this.tempPathFor(target);
      try {
        const file = await open(temp, 'wx', PRIVATE_FILE_MODE);
        try {
          for (const bytes of parts) {
            for (let at = 0; at < bytes.byteLength; at += FILE_READ_SLICE_BYTES) await file.write(bytes.subarray(at, at + FILE_READ_SLICE_BYTES));
          }
          await file.sync();
        } finally {
          await file.close();
        }
        await rename(temp, target);
      } catch (err) {
        await rm(temp, { force: true });
        throw err;
      }
      await syncDirectory(dirname(target));
    }
    return { sha256, size, created };
  }

  /**
   * Moves a staged file in under `sha256`, which the caller has already verified (it is not
   * hashed again). The staged file is gone afterwards, also when the blob already existed.
   * True when the blob is new, false when it was stored already.
   */
  async putFile(path: string, sha256: string): Promise<boolean> {
    const target = this.path(sha256);
    if (await this.hasFile(sha256)) {
      await rm(path, { force: true });
      return false;
    }
    await mkdir(dirname(target), { recursive: true, mode: PRIVATE_DIR_MODE });
    await syncFile(path);
    try {
      await rename(path, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      // Another filesystem: copy next to the target first so the blob still appears whole.
      const temp = await this.tempPathFor(target);
      try {
        await copyFile(path, temp);
        await chmod(temp, PRIVATE_FILE_MODE);
        await syncFile(temp);
        await rename(temp, target);
      } catch (copyErr) {
        await rm(temp, { force: true });
        throw copyErr;
      }
      await rm(path, { force: true });
    }
    await syncDirectory(dirname(target));
    return true;
  }

  /** Deletes a blob, from both places; its size in bytes, or undefined when it was not there. */
  async remove(sha256: string): Promise<number | undefined> {
    this.path(sha256);
    // The same bytes may be kept in both places (an update's payload inline, a model version's file).
    const inlineSize = await this.inline?.remove(sha256);
    return (await this.removeFile(sha256)) ?? inlineSize;
  }

  /**
   * Deletes a blob's file only (taking back a `put` or `putFile` that created it), leaving the
   * same bytes kept inline for the record that names them; its size, or undefined when absent.
   */
  async removeFile(sha256: string): Promise<number | undefined> {
    const path = this.path(sha256);
    try {
      const size = (await stat(path)).size;
      await rm(path);
      return size;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.inlineBytes(sha256)) !== undefined || this.hasFile(sha256);
  }

  private async inlineBytes(sha256: string): Promise<Uint8Array | undefined> {
    if (this.inline === undefined) return undefined;
    this.path(sha256);
    return this.inline.get(sha256);
  }

  private async hasFile(sha256: string): Promise<boolean> {
    try {
      return (await stat(this.path(sha256))).isFile();
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Size in bytes; NOT_FOUND if absent. */
  async size(sha256: string): Promise<number> {
    const inline = await this.inlineBytes(sha256);
    if (inline !== undefined) return inline.byteLength;
    try {
      return (await stat(this.path(sha256))).size;
    } catch (err) {
      throw notFoundOr(err, sha256);
    }
  }

  /** The whole blob; NOT_FOUND if absent. */
  async read(sha256: string): Promise<Buffer> {
    const inline = await this.inlineBytes(sha256);
    if (inline !== undefined) return Buffer.from(inline.buffer, inline.byteOffset, inline.byteLength);
    try {
      return await readWholeFile(this.path(sha256));
    } catch (err) {
      throw notFoundOr(err, sha256);
    }
  }

  /**
   * Up to `length` bytes from `offset` (fewer at the end; empty at the end exactly), for
   * resumable downloads. OUT_OF_RANGE when `offset` is past the end.
   */
  async readRange(sha256: string, offset: number, length: number): Promise<Buffer> {
    checkRange(offset, length);
    const reader = await this.openReader(sha256);
    try {
      return await reader.readRange(offset, length);
    } finally {
      await reader.close();
    }
  }

  /** Opens a blob once for many range reads (a download's chunks); close it when done. NOT_FOUND if absent. */
  async openReader(sha256: string): Promise<BlobReader> {
    const inline = await this.inlineBytes(sha256);
    if (inline !== undefined) return new BlobReader(inline, sha256, inline.byteLength);
    let file;
    try {
      file = await open(this.path(sha256), 'r');
    } catch (err) {
      throw notFoundOr(err, sha256);
    }
    try {
      return new BlobReader(file, sha256, (await file.stat()).size);
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  private async tempPathFor(target: string): Promise<string> {
    await mkdir(dirname(target), { recursive: true, mode: PRIVATE_DIR_MODE });
    return `${target}.${randomBytes(6).toString('hex')}.tmp`;
  }
}

/** Bytes hashed between two turns of the event loop: a few milliseconds of SHA-256 here. */
export const HASH_STEP_BYTES = 8 * 2 ** 20;

/**
 * Lowercase hex SHA-256 of `parts` one after another, giving the event loop a turn after every
 * `step` bytes: a round's new model (tens of MB) is hashed as it is stored without holding up
 * gRPC calls and NATS traffic for the whole digest. Parts smaller than `step` in all are hashed
 * at once, with no pause.
 */
export async function sha256HexInSteps(parts: readonly Uint8Array[], step = HASH_STEP_BYTES): Promise<string> {
  if (!Number.isSafeInteger(step) || step < 1) throw TributaryError.invalidArgument(`a hash step is at least one byte, not ${step}`);
  const hash = createHash('sha256');
  let sinceTurn = 0;
  for (const bytes of parts) {
    for (let at = 0; at < bytes.byteLength; ) {
      const n = Math.min(step - sinceTurn, bytes.byteLength - at);
      hash.update(bytes.subarray(at, at + n));
      at += n;
      sinceTurn += n;
      if (sinceTurn >= step) {
        sinceTurn = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }
  return hash.digest('hex');
}

/** An open blob (a file, or the bytes of an inline one); blobs never change, so its size is read once. */
export class BlobReader {
  constructor(
    private readonly file: FileHandle | Uint8Array,
    private readonly sha256: string,
    readonly size: number,
  ) {}

  /** As `BlobStore.readRange`. */
  async readRange(offset: number, length: number): Promise<Buffer> {
    checkRange(offset, length);
    if (offset > this.size) {
      throw TributaryError.of(
        Reason.INVALID_ARGUMENT,
        `offset ${offset} is past the end of blob ${this.sha256} (${this.size} bytes)`,
        { code: 'OUT_OF_RANGE' },
      );
    }
    if (this.file instanceof Uint8Array) return Buffer.from(this.file.subarray(offset, offset + length));
    // Not zero-filled first: every byte handed out is read from the file (a short read is cut).
    const buffer = Buffer.allocUnsafe(Math.min(length, this.size - offset));
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await this.file.read(buffer, filled, Math.min(FILE_READ_SLICE_BYTES, buffer.length - filled), offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === buffer.length ? buffer : buffer.subarray(0, filled);
  }

  /**
   * Fills `target` with the blob's bytes from `offset` (a model chunk read straight into its
   * wire form); fails if the blob ends before `target` is full.
   */
  async readInto(target: Uint8Array, offset: number): Promise<void> {
    checkRange(offset, target.length);
    if (offset + target.length > this.size) {
      throw TributaryError.of(Reason.INVALID_ARGUMENT, `bytes ${offset}..${offset + target.length} are past the end of blob ${this.sha256} (${this.size} bytes)`, { code: 'OUT_OF_RANGE' });
    }
    if (this.file instanceof Uint8Array) {
      target.set(this.file.subarray(offset, offset + target.length));
      return;
    }
    let filled = 0;
    while (filled < target.length) {
      const { bytesRead } = await this.file.read(target, filled, Math.min(FILE_READ_SLICE_BYTES, target.length - filled), offset + filled);
      if (bytesRead === 0) throw TributaryError.internal(`blob ${this.sha256} ended at ${offset + filled} of ${this.size} bytes`);
      filled += bytesRead;
    }
  }

  async close(): Promise<void> {
    if (!(this.file instanceof Uint8Array)) await this.file.close();
  }
}

/**
 * The most bytes asked of one `FileHandle.read` or `write`: Node takes a length that fits an
 * int32 only (a longer read aborts the process), and `readFile` refuses files from 2 GiB on.
 */
export const FILE_READ_SLICE_BYTES = 2 ** 30;

/** A whole file in one buffer, of any size a Buffer can hold, read in slices of FILE_READ_SLICE_BYTES. */
export async function readWholeFile(path: string): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const buffer = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await file.read(buffer, filled, Math.min(FILE_READ_SLICE_BYTES, size - filled), filled);
      if (bytesRead === 0) throw TributaryError.of(Reason.INTERNAL, `${path} ended at byte ${filled} of ${size} while being read`);
      filled += bytesRead;
    }
    return buffer;
  } finally {
    await file.close();
  }
}

function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw TributaryError.invalidArgument(`invalid range: offset ${offset}, length ${length}`);
  }
}

async function syncFile(path: string): Promise<void> {
  const file = await open(path, 'r+');
  try {
    await file.sync();
  } finally {
    await file.close();
  }
}

// The rename itself is durable only once the directory is synced; some platforms cannot.
async function syncDirectory(path: string): Promise<void> {
  let dir;
  try {
    dir = await open(path, 'r');
    await dir.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw err;
  } finally {
    await dir?.close();
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

function notFoundOr(err: unknown, sha256: string): unknown {
  if (!isNotFound(err)) return err;
  return TributaryError.of(Reason.NOT_FOUND, `blob ${sha256} not found`, { cause: err });
}
