import { assertName } from '@tributary/proto';
import type { Site__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { optString } from '../../input.js';
import { sitesTable } from '../../views.js';

export default defineCommand({
  path: ['site', 'list'],
  summary: 'List sites, when each was last seen and if it is connected',
  connects: true,
  options(cmd) {
    cmd.option('--federation <name>', 'only members of this federation');
  },
  parse(raw) {
    const federation = optString(raw, 'federation');
    return { federation: federation === undefined ? undefined : assertName('federation', federation) };
  },
  async run(input, ctx): Promise<Site__Output[]> {
    const admin = await ctx.admin();
    // A federation that does not exist is an error, not an empty list.
    if (input.federation !== undefined) await admin.getFederation(input.federation);
    return admin.listSites(input.federation);
  },
  render(sites) {
    return sites.length === 0 ? 'No sites.' : sitesTable(sites);
  },
  quiet: (sites) => sites.map((s) => s.name).join('\n'),
});
