import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { decodeKeyFile, isTributaryError, parsePublicKey } from '@tributary/proto';
import { invalidValue } from './values.js';
import type { ValueLabel } from './values.js';

/**
 * An Ed25519 public key given as base64 (standard or URL alphabet), or as the path of a file
 * holding either a base64 public key or a Tributary key file (only its public half is used).
 */
export async function readPublicKey(spec: string, what: ValueLabel, baseDir = process.cwd()): Promise<Uint8Array> {
  const text = spec.trim();
  const inline = tryParsePublicKey(text);
  if (inline !== undefined) return inline;
  const path = resolve(baseDir, text);
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch {
    throw invalidValue(what, spec, 'neither a base64 Ed25519 public key nor a readable key file');
  }
  const fromFile = tryParsePublicKey(content.trim());
  if (fromFile !== undefined) return fromFile;
  try {
    return decodeKeyFile(content).publicKey;
  } catch (err) {
    const why = isTributaryError(err) ? err.message : 'not a key file';
    throw invalidValue(what, spec, `file ${path} holds no public key: ${why}`);
  }
}

function tryParsePublicKey(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(text)) return undefined;
  try {
    return parsePublicKey(text);
  } catch {
    return undefined;
  }
}
