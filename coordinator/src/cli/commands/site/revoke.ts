import type { Site__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { nameArg } from '../../input.js';

export default defineCommand({
  path: ['site', 'revoke'],
  summary: "Revoke a site's key: its calls and updates are refused from now on",
  args: [['<name>', 'site name']],
  connects: true,
  parse(raw) {
    return { name: nameArg(raw, 0, 'site') };
  },
  async run(input, ctx): Promise<Site__Output> {
    return (await ctx.admin()).revokeSite(input.name);
  },
  render(site) {
    return `Revoked site "${site.name}" (key id ${site.keyId}).`;
  },
});
