import { chmod, mkdir, open, rename, stat } from 'node:fs/promises';
import { Reason, TributaryError } from '@tributary/proto';

/** Mode of every file the coordinator writes: its state, blobs and staged payloads are its own. */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of the data directory and every directory in it. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Creates a directory readable by the coordinator's user only, or makes an existing one so. Files
 * a library writes with the process umask (LevelDB's) stay private inside it.
 */
export async function ensurePrivateDirectory(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE });
  await chmod(path, PRIVATE_DIR_MODE);
}

/**
 * Writes a 0600 file through a temp file and a rename, so a reader never sees half of it and a
 * crash leaves the old one. `exclusive` refuses to replace an existing file.
 */
export async function writePrivateFile(path: string, content: string | Uint8Array, opts: { exclusive?: boolean } = {}): Promise<void> {
  if (opts.exclusive === true && (await exists(path))) {
    throw TributaryError.of(Reason.ALREADY_EXISTS, `${path} already exists; refusing to overwrite it`);
  }
  const temp = `${path}.${process.pid}.tmp`;
  const handle = await open(temp, 'w', PRIVATE_FILE_MODE);
  try {
    await handle.chmod(PRIVATE_FILE_MODE);
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
