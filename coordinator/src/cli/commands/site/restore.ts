import type { Site__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { nameArg } from '../../input.js';
import { list } from '../../render.js';

export default defineCommand({
  path: ['site', 'restore'],
  summary: "Trust a revoked or removed site's key again (memberships are not restored)",
  args: [['<name>', 'site name']],
  connects: true,
  parse(raw) {
    return { name: nameArg(raw, 0, 'site') };
  },
  async run(input, ctx): Promise<Site__Output> {
    return (await ctx.admin()).restoreSite(input.name);
  },
  render(site) {
    return [
      `Restored site "${site.name}" (key id ${site.keyId}): its key is trusted again.`,
      'Warning: if the key was revoked because it leaked, have the site make a new key and add that instead.',
      site.federations.length > 0
        ? `It is still a member of ${list(site.federations)}.`
        : `It is a member of no federation until added: \`tributary site add ${site.name} --public-key <key> --federation <name>\`.`,
    ].join('\n');
  },
});
