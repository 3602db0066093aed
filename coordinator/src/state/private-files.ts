import { chmod, mkdir } from 'node:fs/promises';

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
