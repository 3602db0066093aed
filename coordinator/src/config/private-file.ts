import { open, rename, stat } from 'node:fs/promises';
import { Reason, TributaryError } from '@tributary/proto';

/**
 * Writes a 0600 file through a temp file and a rename, so a reader never sees half of it and a
 * crash leaves the old one. `exclusive` refuses to replace an existing file.
 */
export async function writePrivateFile(path: string, content: string | Uint8Array, opts: { exclusive?: boolean } = {}): Promise<void> {
  if (opts.exclusive === true && (await exists(path))) {
    throw TributaryError.of(Reason.ALREADY_EXISTS, `${path} already exists; refusing to overwrite it`);
  }
  const temp = `${path}.${process.pid}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.chmod(0o600);
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
