import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  decodeKeyFile,
  encodeKeyFile,
  formatPublicKey,
  generateSigningKey,
  keyIdOf,
  parsePublicKey,
  readKeyFile,
  signBytes,
  signBytesNative,
  verifyBytes,
  writeKeyFile,
  type SigningKey,
} from '@tributary/proto';

const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

describe('signing keys', () => {
  it('generates a key whose id is the first 16 bytes of SHA-256 over the public key', () => {
    const key = generateSigningKey('alice');
    expect(key.name).toBe('alice');
    expect(key.publicKey).toHaveLength(32);
    expect(key.secretKey).toHaveLength(64);
    expect(key.keyId).toMatch(/^[0-9a-f]{32}$/);
    expect(key.keyId).toBe(keyIdOf(key.publicKey));
    expect(keyIdOf(new Uint8Array(32))).toBe('66687aadf862bd776c8fc18b8e9f8e20');
  });

  it('signs and verifies, and rejects other messages, keys and malformed inputs without throwing', () => {
    const key = generateSigningKey('a');
    const other = generateSigningKey('b');
    const msg = Buffer.from('hello');
    const sig = signBytes(key, msg);
    expect(verifyBytes(key.publicKey, msg, sig)).toBe(true);
    expect(verifyBytes(key.publicKey, Buffer.from('hellO'), sig)).toBe(false);
    expect(verifyBytes(other.publicKey, msg, sig)).toBe(false);
    expect(verifyBytes(key.publicKey, msg, sig.subarray(0, 63))).toBe(false);
    expect(verifyBytes(key.publicKey.subarray(0, 31), msg, sig)).toBe(false);
    expect(verifyBytes(new Uint8Array(32).fill(0xff), msg, sig)).toBe(false);
    expect(verifyBytes(key.publicKey, msg, new Uint8Array(64))).toBe(false);
  });

  it('tweetnacl signatures verify with node:crypto', () => {
    const key = generateSigningKey('a');
    const msg = randomBytes(200);
    const sig = signBytes(key, msg);
    const pub = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(key.publicKey) }, format: 'jwk' });
    expect(cryptoVerify(null, msg, pub, sig)).toBe(true);
    expect(verifyBytes(key.publicKey, msg, sig)).toBe(true);
  });

  it('node:crypto signatures verify with tweetnacl', () => {
    const key = generateSigningKey('a');
    const seed = key.secretKey.subarray(0, 32);
    const priv = createPrivateKey({
      key: { kty: 'OKP', crv: 'Ed25519', d: b64url(seed), x: b64url(key.publicKey) },
      format: 'jwk',
    });
    const msg = randomBytes(200);
    const sig = new Uint8Array(cryptoSign(null, msg, priv));
    expect(nacl.sign.detached.verify(msg, sig, key.publicKey)).toBe(true);
    // Ed25519 is deterministic: both implementations produce the same bytes.
    expect(Buffer.from(sig).equals(Buffer.from(signBytes(key, msg)))).toBe(true);
  });

  it('signs with node:crypto the same bytes as with tweetnacl', () => {
    const key = generateSigningKey('a');
    for (const msg of [new Uint8Array(0), randomBytes(32), randomBytes(1000)]) {
      const sig = signBytesNative(key, msg);
      expect(Buffer.from(sig).equals(Buffer.from(signBytes(key, msg)))).toBe(true);
      expect(verifyBytes(key.publicKey, msg, sig)).toBe(true);
    }
  });

  it('parses and formats public keys in standard and URL-safe base64', () => {
    const key = generateSigningKey('a');
    const std = formatPublicKey(key.publicKey);
    expect(std).toBe(Buffer.from(key.publicKey).toString('base64'));
    expect(parsePublicKey(std)).toEqual(key.publicKey);
    expect(parsePublicKey(` ${std}\n`)).toEqual(key.publicKey);
    expect(parsePublicKey(std.replace(/=+$/, ''))).toEqual(key.publicKey);
    expect(parsePublicKey(b64url(key.publicKey))).toEqual(key.publicKey);
  });

  it('refuses public keys that are not base64 of 32 bytes', () => {
    for (const bad of ['', 'abc', Buffer.alloc(31).toString('base64'), Buffer.alloc(33).toString('base64'), `${'A'.repeat(42)}!=`, 'AAAA AAAA']) {
      expect(() => parsePublicKey(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', reason: 'INVALID_ARGUMENT' }));
    }
  });
});

describe('key files', () => {
  let dir: string;
  let key: SigningKey;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trib-keys-'));
    key = generateSigningKey('site-a');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a 0600 file that reads back as the same key', async () => {
    const path = join(dir, 'nested', 'key.json');
    await writeKeyFile(path, key);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const back = await readKeyFile(path);
    expect(back.name).toBe('site-a');
    expect(back.keyId).toBe(key.keyId);
    expect(back.publicKey).toEqual(key.publicKey);
    expect(back.secretKey).toEqual(key.secretKey);
    const json = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    expect(json).toEqual({
      kind: 'tributary.key.v1',
      name: 'site-a',
      publicKey: Buffer.from(key.publicKey).toString('base64'),
      secretKey: Buffer.from(key.secretKey).toString('base64'),
    });
  });

  it('refuses a file that group or others can read', async () => {
    const path = join(dir, 'key.json');
    await writeKeyFile(path, key);
    await chmod(path, 0o644);
    await expect(readKeyFile(path)).rejects.toMatchObject({ reason: 'KEY_FILE_INSECURE' });
    await chmod(path, 0o640);
    await expect(readKeyFile(path)).rejects.toMatchObject({ reason: 'KEY_FILE_INSECURE' });
    await chmod(path, 0o400);
    await expect(readKeyFile(path)).resolves.toMatchObject({ keyId: key.keyId });
  });

  it('refuses to overwrite an existing file unless asked to', async () => {
    const path = join(dir, 'key.json');
    await writeKeyFile(path, key);
    const other = generateSigningKey('other');
    await expect(writeKeyFile(path, other)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect((await readKeyFile(path)).keyId).toBe(key.keyId);
    await chmod(path, 0o644);
    await writeKeyFile(path, other, { overwrite: true });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readKeyFile(path)).keyId).toBe(other.keyId);
  });

  it('reports a missing file as NOT_FOUND', async () => {
    await expect(readKeyFile(join(dir, 'nope.json'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  describe('rejects tampered or invalid files with KEY_FILE_INVALID', () => {
    const tamper = (edit: (o: Record<string, unknown>) => void): string => {
      const o = JSON.parse(encodeKeyFile(key)) as Record<string, unknown>;
      edit(o);
      return JSON.stringify(o);
    };
    const cases: [string, () => string][] = [
      ['not JSON', () => 'not json'],
      ['a JSON array', () => '[]'],
      ['another kind', () => tamper((o) => (o['kind'] = 'ssh.key'))],
      ['no name', () => tamper((o) => delete o['name'])],
      ['a public key of another key', () => tamper((o) => (o['publicKey'] = formatPublicKey(generateSigningKey('x').publicKey)))],
      ['a changed seed', () =>
        tamper((o) => {
          const sk = Buffer.from(o['secretKey'] as string, 'base64');
          sk[0] = (sk[0] ?? 0) ^ 1;
          o['secretKey'] = sk.toString('base64');
        })],
      ['a secret key whose second half is another public key', () =>
        tamper((o) => {
          const sk = Buffer.from(o['secretKey'] as string, 'base64');
          sk.set(generateSigningKey('x').publicKey, 32);
          o['secretKey'] = sk.toString('base64');
        })],
      ['a short secret key', () => tamper((o) => (o['secretKey'] = Buffer.alloc(32).toString('base64')))],
      ['junk in the base64', () => tamper((o) => (o['publicKey'] = `${o['publicKey'] as string}!!`))],
    ];
    for (const [what, text] of cases) {
      it(what, async () => {
        expect(() => decodeKeyFile(text())).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', reason: 'KEY_FILE_INVALID' }));
        const path = join(dir, 'key.json');
        await writeFile(path, text(), { mode: 0o600 });
        await expect(readKeyFile(path)).rejects.toMatchObject({ reason: 'KEY_FILE_INVALID' });
      });
    }
  });
});
