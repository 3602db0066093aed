import type { Principal__Output } from '@tributary/proto';
import { readPublicKey } from '../../../config/public-key.js';
import { defineCommand } from '../../command.js';
import { nameArg, optString } from '../../input.js';

export default defineCommand({
  path: ['principal', 'rotate'],
  summary: "Replace a principal's key: the old key is refused from the next call on",
  args: [['<name>', 'principal name']],
  connects: true,
  options(cmd) {
    cmd.requiredOption('--public-key <key>', 'the new base64 Ed25519 public key, or a file holding it (or a key file)');
  },
  parse(raw) {
    return { name: nameArg(raw, 0, 'principal'), publicKey: optString(raw, 'publicKey') ?? '' };
  },
  async run(input, ctx): Promise<Principal__Output> {
    const publicKey = await readPublicKey(input.publicKey, '--public-key', ctx.cwd);
    return (await ctx.admin()).rotatePrincipalKey(input.name, publicKey);
  },
  render(p) {
    return `Rotated the key of principal "${p.name}": key id ${p.keyId}.`;
  },
});
