import type { Site__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { nameArg } from '../../input.js';
import { list } from '../../render.js';

export default defineCommand({
  path: ['site', 'remove'],
  summary: 'Take a site out of every federation and revoke its key (the record stays, marked removed)',
  args: [['<name>', 'site name']],
  connects: true,
  parse(raw) {
    return { name: nameArg(raw, 0, 'site') };
  },
  async run(input, ctx): Promise<Site__Output> {
    return (await ctx.admin()).removeSite(input.name);
  },
  render(site) {
    return [
      `Removed site "${site.name}" (key id ${site.keyId}) from ${list(site.removedFrom)}; its key is revoked.`,
      'Rounds it was selected for go on without it. `tributary site restore` trusts the key again.',
    ].join('\n');
  },
});
