import type { Invitation__Output, Site__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { optName } from '../../input.js';
import { invitationsTable, sitesTable } from '../../views.js';

/** The sites, and the invitations pending for sites still to come. */
export interface SiteListResult {
  readonly sites: Site__Output[];
  readonly invitations: Invitation__Output[];
}

export default defineCommand({
  path: ['site', 'list'],
  summary: 'List sites (status, last seen, connected) and pending invitations',
  connects: true,
  options(cmd) {
    cmd.option('--federation <name>', 'only members of this federation, and invitations to it');
  },
  parse(raw) {
    return { federation: optName(raw, 'federation', 'federation') };
  },
  async run(input, ctx): Promise<SiteListResult> {
    const admin = await ctx.admin();
    // A federation that does not exist is an error, not an empty list.
    if (input.federation !== undefined) await admin.getFederation(input.federation);
    const [sites, invitations] = await Promise.all([admin.listSites(input.federation), admin.listInvitations(input.federation)]);
    return { sites, invitations };
  },
  render({ sites, invitations }) {
    const shown = [sites.length === 0 ? 'No sites.' : sitesTable(sites)];
    if (invitations.length > 0) shown.push('', 'Pending invitations (`tributary site uninvite <id>` revokes one):', invitationsTable(invitations));
    return shown.join('\n');
  },
  quiet: ({ sites }) => sites.map((s) => s.name).join('\n'),
});
