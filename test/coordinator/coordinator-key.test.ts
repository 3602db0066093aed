import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readKeyFile } from '@tributary/proto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COORDINATOR_KEY_FILE, loadCoordinatorKey } from '../../coordinator/src/identity/coordinator-key.js';

describe('the coordinator key', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tributary-coordinator-key-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('is created in the data directory on first start, readable by its owner only', async () => {
    const { key, created } = await loadCoordinatorKey(dataDir);
    expect(created).toBe(true);
    const path = join(dataDir, COORDINATOR_KEY_FILE);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readKeyFile(path)).keyId).toBe(key.keyId);
  });

  it('is the same key on every later start', async () => {
    const first = await loadCoordinatorKey(dataDir);
    const again = await loadCoordinatorKey(dataDir);
    expect(again.created).toBe(false);
    expect(again.key.keyId).toBe(first.key.keyId);
    expect(Buffer.from(again.key.secretKey).equals(Buffer.from(first.key.secretKey))).toBe(true);
  });

  it('stops the start with KEY_FILE_INSECURE when others may read the file, leaving it in place', async () => {
    const { key } = await loadCoordinatorKey(dataDir);
    const path = join(dataDir, COORDINATOR_KEY_FILE);
    await chmod(path, 0o644);
    await expect(loadCoordinatorKey(dataDir)).rejects.toMatchObject({ reason: 'KEY_FILE_INSECURE' });
    await chmod(path, 0o600);
    expect((await loadCoordinatorKey(dataDir)).key.keyId).toBe(key.keyId);
  });

  it('stops the start with KEY_FILE_INVALID when the file is not a key file, rather than replacing it', async () => {
    const path = join(dataDir, COORDINATOR_KEY_FILE);
    await writeFile(path, 'not a key\n', { mode: 0o600 });
    await expect(loadCoordinatorKey(dataDir)).rejects.toMatchObject({ reason: 'KEY_FILE_INVALID' });
    expect((await stat(path)).size).toBe('not a key\n'.length);
  });
});
