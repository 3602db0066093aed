import { resolve } from 'node:path';
import { assertName, formatPublicKey, generateSigningKey, writeKeyFile } from '@tributary/proto';

/** A key file just written: what the operator needs to add the site, and where the secret is. */
export interface SiteKeyFile {
  readonly name: string;
  readonly keyId: string;
  /** Standard base64 of the raw 32-byte Ed25519 public key: what `tributary site add --public-key` takes. */
  readonly publicKey: string;
  /** Absolute path of the key file (mode 0600). */
  readonly file: string;
}

/**
 * Generates a site's Ed25519 key and writes it to `file` with mode 0600. An existing file is
 * refused (ALREADY_EXISTS) unless `overwrite`, so a key in use is never lost by accident.
 */
export async function writeNewSiteKey(file: string, name: string, opts: { overwrite?: boolean } = {}): Promise<SiteKeyFile> {
  const key = generateSigningKey(assertName('site', name));
  const path = resolve(file);
  await writeKeyFile(path, key, { overwrite: opts.overwrite === true });
  return { name: key.name, keyId: key.keyId, publicKey: formatPublicKey(key.publicKey), file: path };
}
