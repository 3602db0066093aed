import { resolve } from 'node:path';
import { formatPublicKey, generateSigningKey, isValidName, NAME_PATTERN, TributaryError, writeKeyFile } from '@tributary/proto';
import { invalidValue } from '../../config/values.js';
import { defineCommand } from '../command.js';
import { withHint } from '../errors.js';
import { arg, optFlag, optString } from '../input.js';
import { fields } from '../render.js';

export interface KeygenResult {
  readonly name: string;
  readonly keyId: string;
  /** Standard base64 of the raw 32-byte Ed25519 public key. */
  readonly publicKey: string;
  /** Absolute path of the key file (mode 0600). */
  readonly file: string;
}

export default defineCommand({
  path: ['keygen'],
  summary: 'Create an Ed25519 key file (mode 0600) and print its key id and public key',
  args: [['<name>', 'key name: a site name, or e.g. "admin"']],
  options(cmd) {
    cmd.option('--out <file>', 'where to write the key file (default: ./<name>.key)');
    cmd.option('--force', 'replace an existing key file');
  },
  parse(raw) {
    const name = arg(raw, 0) ?? '';
    if (!isValidName(name)) throw invalidValue('key name', name, `must match ${NAME_PATTERN.source}`);
    return { name, out: optString(raw, 'out') ?? `${name}.key`, force: optFlag(raw, 'force') };
  },
  async run(input, ctx): Promise<KeygenResult> {
    const file = resolve(ctx.cwd, input.out);
    const key = generateSigningKey(input.name);
    try {
      await writeKeyFile(file, key, { overwrite: input.force });
    } catch (err) {
      if (TributaryError.from(err).code !== 'ALREADY_EXISTS') throw err;
      throw withHint(err, 'Pass --force to replace it (its old key stops working), or choose another --out.');
    }
    return { name: key.name, keyId: key.keyId, publicKey: formatPublicKey(key.publicKey), file };
  },
  render(r) {
    return [
      `Wrote key "${r.name}" to ${r.file} (mode 0600). Keep this file secret.`,
      fields([
        ['key id', r.keyId],
        ['public key', r.publicKey],
      ]),
      '',
      'Share the public key: an admin adds a site with',
      `  tributary site add ${r.name} --public-key ${r.publicKey} --federation <name>`,
      'and a coordinator trusts an admin key with --admin-key (or admin_keys in its config).',
    ].join('\n');
  },
});
