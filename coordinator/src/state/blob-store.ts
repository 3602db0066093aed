import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Reason, TributaryError, sha256HexOfParts } from '@tributary/proto';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../config/private-file.js';

const SHA256_PATTERN = /^[0-9a-f]{64}$/;

/**
 * Content-addressed files: the blob with digest `abcd...` lives at `<dir>/sha256/ab/abcd...`.
 * A blob appears whole or not at all (temp file, fsync, rename), so a reader never sees a
 * partial payload and a crash leaves at most a stray temp file.
 */
export class BlobStore {
  constructor(readonly dir: string) {}

  /** Path of a blob (whether or not it exists). */
  path(sha256: string): string {
    if (!SHA256_PATTERN.test(sha256)) {
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
    const sha256 = sha256HexOfParts(parts);
    const size = parts.reduce((n, p) => n + p.byteLength, 0);
    const target = this.path(sha256);
    const created = !(await this.has(sha256));
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
    if (await this.has(sha256)) {
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

  /** Deletes a blob; its size in bytes, or undefined when it was not there. */
  async remove(sha256: string): Promise<number | undefined> {
    const path = this.path(sha256);
    let size: number;
    try {
      size = (await stat(path)).size;
      await rm(path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return size;
  }

  async has(sha256: string): Promise<boolean> {
    try {
      return (await stat(this.path(sha256))).isFile();
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Size in bytes; NOT_FOUND if absent. */
  async size(sha256: string): Promise<number> {
    try {
      return (await stat(this.path(sha256))).size;
    } catch (err) {
      throw notFoundOr(err, sha256);
    }
  }

  /** The whole blob; NOT_FOUND if absent. */
  async read(sha256: string): Promise<Buffer> {
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

/** An open blob; blobs never change, so its size is read once. */
export class BlobReader {
  constructor(
    private readonly file: FileHandle,
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
    const buffer = Buffer.alloc(Math.min(length, this.size - offset));
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await this.file.read(buffer, filled, Math.min(FILE_READ_SLICE_BYTES, buffer.length - filled), offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === buffer.length ? buffer : buffer.subarray(0, filled);
  }

  async close(): Promise<void> {
    await this.file.close();
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
