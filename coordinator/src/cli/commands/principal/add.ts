import { assertName } from '@tributary/proto';
import type { Principal__Output } from '@tributary/proto';
import { readPublicKey } from '../../../config/public-key.js';
import { defineCommand } from '../../command.js';
import { collect, nameArg, optList, optString } from '../../input.js';
import { list } from '../../render.js';

export default defineCommand({
  path: ['principal', 'add'],
  summary: 'Add a principal: a named admin-side key (a person, a CI job, a dashboard); grant it privileges next',
  args: [['<name>', 'principal name']],
  connects: true,
  options(cmd) {
    cmd
      .requiredOption('--public-key <key>', 'base64 Ed25519 public key, or a file holding it (or a key file)')
      .option('--group <name>', 'group the principal belongs to; repeatable', collect)
      .option('--description <text>', 'who or what holds the key');
  },
  parse(raw) {
    return {
      name: nameArg(raw, 0, 'principal'),
      publicKey: optString(raw, 'publicKey') ?? '',
      groups: optList(raw, 'group').map((g) => assertName('group', g)),
      description: optString(raw, 'description') ?? '',
    };
  },
  async run(input, ctx): Promise<Principal__Output> {
    const publicKey = await readPublicKey(input.publicKey, '--public-key', ctx.cwd);
    return (await ctx.admin()).addPrincipal({ name: input.name, publicKey, groups: input.groups, description: input.description });
  },
  render(p) {
    const groups = p.groups.length === 0 ? '' : ` in groups ${list(p.groups)}`;
    return `Added principal "${p.name}" (key id ${p.keyId})${groups}. It may do nothing until granted: tributary grant read federation:<name> principal:${p.name}`;
  },
});
