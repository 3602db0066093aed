import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatPublicKey, generateSigningKey, readKeyFile, writeKeyFile } from '@tributary/client-sdk';
import { startSiteAgent } from './helpers.js';

interface KeygenEnvelope {
  ok: boolean;
  result?: { name: string; keyId: string; publicKey: string; file: string };
  error?: { code: string; message: string; hint?: string };
}

async function keygen(args: string[], cwd: string): Promise<{ status: number; envelope: KeygenEnvelope; stdout: string }> {
  const agent = startSiteAgent(['keygen', ...args, '--json'], {}, cwd);
  const status = await agent.exited;
  return { status, envelope: JSON.parse(agent.stdout()) as KeygenEnvelope, stdout: agent.stdout() };
}

describe('tributary-site keygen', () => {
  let work: string;

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'tributary-keygen-'));
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('writes ./<name>.key with mode 0600 and prints its key id and public key', async () => {
    const { status, envelope } = await keygen(['hospital-a'], work);
    expect(status).toBe(0);
    const file = join(work, 'hospital-a.key');
    expect(envelope).toMatchObject({ ok: true, result: { name: 'hospital-a', file } });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const key = await readKeyFile(file);
    expect(envelope.result?.keyId).toBe(key.keyId);
    expect(envelope.result?.publicKey).toBe(formatPublicKey(key.publicKey));
  });

  it('prints the command an operator runs to add the site, without --json', async () => {
    const agent = startSiteAgent(['keygen', 'hospital-b', '--key', 'keys/site.key'], {}, work);
    expect(await agent.exited).toBe(0);
    const key = await readKeyFile(join(work, 'keys', 'site.key'));
    expect(agent.stdout()).toContain(`key id      ${key.keyId}`);
    expect(agent.stdout()).toContain(`tributary site add hospital-b --public-key ${formatPublicKey(key.publicKey)}`);
  });

  it('refuses to replace an existing key file and leaves it as it was', async () => {
    const file = join(work, 'site.key');
    await writeKeyFile(file, generateSigningKey('hospital-c'));
    const before = await readFile(file, 'utf8');
    const { status, envelope } = await keygen(['hospital-c', '--key', file], work);
    expect(status).toBe(1);
    expect(envelope.error).toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(envelope.error?.hint).toContain('--force');
    expect(await readFile(file, 'utf8')).toBe(before);
  });

  it('replaces an existing key file with --force', async () => {
    const file = join(work, 'site.key');
    const old = generateSigningKey('hospital-d');
    await writeKeyFile(file, old);
    const { status, envelope } = await keygen(['hospital-d', '--key', file, '--force'], work);
    expect(status).toBe(0);
    expect(envelope.result?.keyId).not.toBe(old.keyId);
    expect((await readKeyFile(file)).keyId).toBe(envelope.result?.keyId);
  });

  it('refuses a name that is not a valid site name, writing nothing', async () => {
    const { status, envelope } = await keygen(['Hospital A'], work);
    expect(status).toBe(1);
    expect(envelope.error).toMatchObject({ code: 'INVALID_NAME' });
    await expect(stat(join(work, 'Hospital A.key'))).rejects.toThrow();
  });
});
