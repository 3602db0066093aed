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

/** Lowercase hex SHA-256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}
