// Byte/text conversions shared by the key, call-auth and safetensors modules.
import { createHash } from 'node:crypto';

const BASE64_STD = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64_URL = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Strict base64 (standard or URL alphabet, padding optional): undefined unless `text` is
 * canonical base64 of exactly `length` bytes. Buffer.from(..., 'base64') alone silently skips junk.
 */
export function decodeBase64Exact(text: string, length: number): Uint8Array | undefined {
  const s = text.trim();
  if (!BASE64_STD.test(s) && !BASE64_URL.test(s)) return undefined;
  const unpadded = s.replace(/=+$/, '');
  const bytes = Buffer.from(unpadded, unpadded.includes('-') || unpadded.includes('_') ? 'base64url' : 'base64');
  if (bytes.length !== length) return undefined;
  // Reject non-canonical trailing bits and wrong padding.
  if (bytes.toString('base64url') !== unpadded.replace(/\+/g, '-').replace(/\//g, '_')) return undefined;
  if (s.length !== unpadded.length && s.length % 4 !== 0) return undefined;
  return new Uint8Array(bytes);
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/**
 * The most bytes handed to one `Hash.update`: node:crypto refuses longer input ("data is too
 * long") from 2 GiB on, so larger payloads are hashed in slices (views, no copy).
 */
export const HASH_SLICE_BYTES = 2 ** 30;

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** True for a SHA-256 digest as Tributary writes it everywhere: 64 lowercase hex characters. */
export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && SHA256_HEX.test(value);
}

/** Lowercase hex SHA-256 of `bytes`, of any length. */
export function sha256Hex(bytes: Uint8Array): string {
  return sha256HexOfParts([bytes]);
}

/** Lowercase hex SHA-256 of `parts` one after another, each of any length. */
export function sha256HexOfParts(parts: readonly Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const bytes of parts) {
    for (let at = 0; at < bytes.byteLength; at += HASH_SLICE_BYTES) hash.update(bytes.subarray(at, at + HASH_SLICE_BYTES));
  }
  return hash.digest('hex');
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}
