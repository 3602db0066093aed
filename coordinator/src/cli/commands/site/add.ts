import type { Site__Output } from '@tributary/proto';
import { readPublicKey } from '../../../config/public-key.js';
import { defineCommand } from '../../command.js';
import { UsageError } from '../../errors.js';
import { collect, federationNames, nameArg, optString } from '../../input.js';
import { list } from '../../render.js';

export default defineCommand({
  path: ['site', 'add'],
  summary: "Approve a site's public key and add it to federations",
  args: [['<name>', 'site name']],
  connects: true,
  options(cmd) {
    cmd
      .requiredOption('--public-key <key>', 'base64 Ed25519 public key, or a file holding it (or a key file)')
      .option('--federation <name>', 'federation to join; repeatable', collect);
  },
  parse(raw) {
    const federations = federationNames(raw);
    if (federations.length === 0) throw new UsageError('at least one --federation is required');
    return { name: nameArg(raw, 0, 'site'), publicKey: optString(raw, 'publicKey') ?? '', federations };
  },
  async run(input, ctx): Promise<Site__Output> {
    const publicKey = await readPublicKey(input.publicKey, '--public-key', ctx.cwd);
    const admin = await ctx.admin();
    return admin.addSite({ name: input.name, publicKey, federations: input.federations });
  },
  render(site) {
    return `Added site "${site.name}" (key id ${site.keyId}) to ${list(site.federations)}.`;
  },
});
