import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import nacl from 'tweetnacl';
import { Reason, TributaryError } from './errors.js';
import { bytesEqual, decodeBase64Exact, sha256Hex, toBase64, toBase64Url } from './encoding.js';

/** An Ed25519 signing key. Every principal (admin, operator, site) is one. */
export interface SigningKey {
  /** A label for people ("admin", a site name); not part of any signature. */
  readonly name: string;
  /** keyIdOf(publicKey). */
  readonly keyId: string;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** 64 bytes in tweetnacl form: seed || publicKey. */
  readonly secretKey: Uint8Array;
}

export const PUBLIC_KEY_BYTES = 32;
export const SECRET_KEY_BYTES = 64;
export const SIGNATURE_BYTES = 64;

const KEY_FILE_KIND = 'tributary.key.v1';

export function generateSigningKey(name: string): SigningKey {
  const pair = nacl.sign.keyPair();
  return makeKey(name, pair.publicKey, pair.secretKey);
}

/** First 16 bytes of SHA-256 over the raw public key, lowercase hex (32 characters). */
export function keyIdOf(publicKey: Uint8Array): string {
  return sha256Hex(publicKey).slice(0, 32);
}

/** Detached Ed25519 signature (64 bytes). */
export function signBytes(key: SigningKey, message: Uint8Array): Uint8Array {
  return nacl.sign.detached(message, key.secretKey);
}

/** How a signature is made: `signBytes` (tweetnacl) or `signBytesNative` (node:crypto); both give the same bytes. */
export type Signer = (key: SigningKey, message: Uint8Array) => Uint8Array;

const privateKeyObjects = new WeakMap<SigningKey, KeyObject>();

/**
 * The same detached Ed25519 signature as `signBytes` (Ed25519 is deterministic), made by
 * node:crypto: about 37,000 signatures/s against tweetnacl's 210, for a server that signs often
 * (the coordinator's verdicts). The key object is kept per key.
 */
export function signBytesNative(key: SigningKey, message: Uint8Array): Uint8Array {
  let privateKey = privateKeyObjects.get(key);
  if (privateKey === undefined) {
    const jwk = { kty: 'OKP', crv: 'Ed25519', d: toBase64Url(key.secretKey.subarray(0, 32)), x: toBase64Url(key.publicKey) };
    privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
    privateKeyObjects.set(key, privateKey);
  }
  return cryptoSign(null, message, privateKey);
}

// node:crypto verifies two orders of magnitude faster than tweetnacl; importing the key is the
// costly part, so key objects are kept for the most recently used keys.
const KEY_OBJECT_CACHE_SIZE = 1024;
const keyObjects = new Map<string, KeyObject>();

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const x = toBase64Url(publicKey);
  const cached = keyObjects.get(x);
  if (cached !== undefined) {
    keyObjects.delete(x);
    keyObjects.set(x, cached);
    return cached;
  }
  const created = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
  keyObjects.set(x, created);
  if (keyObjects.size > KEY_OBJECT_CACHE_SIZE) {
    const oldest = keyObjects.keys().next();
    if (oldest.done !== true) keyObjects.delete(oldest.value);
  }
  return created;
}

/** Ed25519 verification; false (never throws) on a bad signature, key or lengths. */
export function verifyBytes(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  try {
    return cryptoVerify(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

/** The key file text: JSON, to be stored with mode 0600. */
export function encodeKeyFile(key: SigningKey): string {
  const file = {
    kind: KEY_FILE_KIND,
    name: key.name,
    publicKey: toBase64(key.publicKey),
    secretKey: toBase64(key.secretKey),
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Parses and checks a key file (KEY_FILE_INVALID), including that the halves belong together. */
export function decodeKeyFile(text: string): SigningKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw keyFileInvalid('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw keyFileInvalid('not a JSON object');
  const o = parsed as Record<string, unknown>;
  if (o['kind'] !== KEY_FILE_KIND) throw keyFileInvalid(`"kind" must be "${KEY_FILE_KIND}"`);
  const name = o['name'];
  if (typeof name !== 'string') throw keyFileInvalid('"name" must be a string');
  const pkText = o['publicKey'];
  const skText = o['secretKey'];
  if (typeof pkText !== 'string') throw keyFileInvalid('"publicKey" must be a base64 string');
  if (typeof skText !== 'string') throw keyFileInvalid('"secretKey" must be a base64 string');
  const publicKey = decodeBase64Exact(pkText, PUBLIC_KEY_BYTES);
  if (publicKey === undefined) throw keyFileInvalid(`"publicKey" must be base64 of ${PUBLIC_KEY_BYTES} bytes`);
  const secretKey = decodeBase64Exact(skText, SECRET_KEY_BYTES);
  if (secretKey === undefined) throw keyFileInvalid(`"secretKey" must be base64 of ${SECRET_KEY_BYTES} bytes`);
  const derived = nacl.sign.keyPair.fromSeed(secretKey.subarray(0, 32)).publicKey;
  if (!bytesEqual(derived, publicKey) || !bytesEqual(secretKey.subarray(32), publicKey)) {
    throw keyFileInvalid('"publicKey" does not belong to "secretKey"');
  }
  return makeKey(name, publicKey, secretKey);
}

/** Writes a key file with mode 0600; refuses to replace an existing file unless `overwrite`. */
export async function writeKeyFile(path: string, key: SigningKey, opts: { overwrite?: boolean } = {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let handle;
  try {
    handle = await open(path, opts.overwrite === true ? 'w' : 'wx', 0o600);
  } catch (err) {
    if (errnoOf(err) === 'EEXIST') {
      throw TributaryError.of(Reason.ALREADY_EXISTS, `key file ${path} already exists; refusing to overwrite it`, { cause: err });
    }
    throw fileError(path, err);
  }
  try {
    // An overwritten file keeps its old mode unless told otherwise.
    await handle.chmod(0o600);
    await handle.writeFile(encodeKeyFile(key), 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads a key file; refuses files that group or others may read (KEY_FILE_INSECURE). */
export async function readKeyFile(path: string): Promise<SigningKey> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw fileError(path, err);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw keyFileInvalid(`${path} is not a regular file`);
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      throw TributaryError.of(
        Reason.KEY_FILE_INSECURE,
        `key file ${path} is accessible by others (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}); run: chmod 600 ${path}`,
        { retryable: false },
      );
    }
    const text = await handle.readFile('utf8');
    try {
      return decodeKeyFile(text);
    } catch (err) {
      if (err instanceof TributaryError) {
        throw TributaryError.of(err.reason, `${path}: ${err.message}`, { code: err.code, cause: err });
      }
      throw err;
    }
  } finally {
    await handle.close();
  }
}

/** A raw 32-byte public key from base64 (standard or URL alphabet); INVALID_ARGUMENT otherwise. */
export function parsePublicKey(text: string): Uint8Array {
  const pk = typeof text === 'string' ? decodeBase64Exact(text, PUBLIC_KEY_BYTES) : undefined;
  if (pk === undefined) {
    throw TributaryError.invalidArgument(`invalid public key: expected base64 of ${PUBLIC_KEY_BYTES} bytes`);
  }
  return pk;
}

/** Standard base64 of a raw public key. */
export function formatPublicKey(pk: Uint8Array): string {
  return toBase64(pk);
}

function makeKey(name: string, publicKey: Uint8Array, secretKey: Uint8Array): SigningKey {
  return Object.freeze({ name, keyId: keyIdOf(publicKey), publicKey, secretKey });
}

function keyFileInvalid(what: string): TributaryError {
  return TributaryError.of(Reason.KEY_FILE_INVALID, `invalid key file: ${what}`);
}

function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function fileError(path: string, err: unknown): TributaryError {
  const errno = errnoOf(err);
  if (errno === 'ENOENT') {
    return TributaryError.of(Reason.NOT_FOUND, `key file ${path} does not exist`, { cause: err });
  }
  if (errno === 'EACCES' || errno === 'EPERM') {
    return TributaryError.of(Reason.PERMISSION_DENIED, `cannot access key file ${path}`, { cause: err });
  }
  return TributaryError.internal(`key file ${path}: ${err instanceof Error ? err.message : String(err)}`, err);
}
