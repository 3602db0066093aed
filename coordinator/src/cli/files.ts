import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Reason, TributaryError } from '@tributary/proto';
import { withHint } from './errors.js';

/**
 * Checks that `file` is a readable, non-empty regular file, with a message that names what it is
 * for (`--initial-model`), so a directory or an empty file is not reported as a raw EISDIR or as
 * a missing field.
 */
export async function openRegularFile(file: string, what: string, hint?: string): Promise<{ size: number }> {
  try {
    return await regularFile(file, what);
  } catch (err) {
    throw hint === undefined ? err : withHint(err, hint);
  }
}

async function regularFile(file: string, what: string): Promise<{ size: number }> {
  let info;
  try {
    info = await stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(err);
    throw TributaryError.of(Reason.INVALID_ARGUMENT, `cannot read ${what} ${file}: ${why}`, { cause: err });
  }
  if (info.isDirectory()) throw TributaryError.of(Reason.INVALID_ARGUMENT, `${what} ${file} is a directory, not a file`);
  if (!info.isFile()) throw TributaryError.of(Reason.INVALID_ARGUMENT, `${what} ${file} is not a regular file`);
  if (info.size === 0) throw TributaryError.of(Reason.INVALID_ARGUMENT, `${what} ${file} is empty`);
  return { size: info.size };
}

/**
 * Writes `bytes` beside `file` and renames it into place, so readers never see a partial file.
 * An existing file is kept unless `overwrite`, as `tributary keygen` does.
 */
export async function writeFileAtomically(file: string, bytes: Uint8Array, opts: { overwrite: boolean; flag: string }): Promise<void> {
  if (!opts.overwrite) await refuseExisting(file, opts.flag);
  await mkdir(dirname(file), { recursive: true });
  const partial = `${file}.${randomBytes(4).toString('hex')}.partial`;
  try {
    await writeFile(partial, bytes);
    await rename(partial, file);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}

/** Refuses a file that exists, with the hint `--force` (the option that named it is `flag`). */
export async function refuseExisting(file: string, flag: string): Promise<void> {
  const exists = await stat(file).then(
    () => true,
    () => false,
  );
  if (exists) {
    throw withHint(TributaryError.of(Reason.ALREADY_EXISTS, `${file} already exists`), `Pass --force to replace it, or choose another ${flag}.`);
  }
}
