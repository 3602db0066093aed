import { accessSync, constants, statSync } from 'node:fs';
import { resolvePath } from './layers.js';
import type { Found, SettingLayers } from './layers.js';
import { invalidValue } from './values.js';

/** Absolute paths of the PEM files of a TLS client. */
export interface TlsFiles {
  /** The CA that signed the server's certificate. @default the system's CAs */
  readonly caFile?: string;
  /** Client certificate and key, for a server that verifies clients (mutual TLS); both or neither. */
  readonly certFile?: string;
  readonly keyFile?: string;
}

/** A CA file, a certificate with its key, or all three, all readable; undefined when none is set. */
export function loadTlsFiles<K extends string>(layers: SettingLayers<K>, keys: { readonly ca: K; readonly cert: K; readonly key: K }): TlsFiles | undefined {
  const ca = layers.text(keys.ca);
  const pair = certificatePair(layers, keys.cert, keys.key);
  if (ca === undefined && pair === undefined) return undefined;
  return Object.freeze({
    ...(ca === undefined ? {} : { caFile: readablePath(ca) }),
    ...(pair === undefined ? {} : { certFile: readablePath(pair.cert), keyFile: readablePath(pair.key) }),
  });
}

/** The settings of a certificate and its key, both or neither; undefined when neither is set. */
export function certificatePair<K extends string>(
  layers: SettingLayers<K>,
  certKey: K,
  keyKey: K,
): { readonly cert: Found<string>; readonly key: Found<string> } | undefined {
  const cert = layers.text(certKey);
  const key = layers.text(keyKey);
  if (cert !== undefined && key !== undefined) return { cert, key };
  const given = cert ?? key;
  if (given === undefined) return undefined;
  throw invalidValue(given.what, given.value, `${certKey} and ${keyKey} go together: set both or neither`);
}

/** The absolute path of a setting naming a file, which must be readable. */
export function readablePath(f: Found<string>): string {
  if (f.value.trim() === '') throw invalidValue(f.what, f.value, 'must not be empty');
  const path = resolvePath(f);
  try {
    if (!statSync(path).isFile()) throw new Error('not a file');
    accessSync(path, constants.R_OK);
  } catch {
    throw invalidValue(f.what, f.value, `cannot read ${path}`);
  }
  return path;
}
