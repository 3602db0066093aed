import type { Invitation__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { optName } from '../../input.js';
import { invitationsTable } from '../../views.js';

export default defineCommand({
  path: ['site', 'invitations'],
  summary: 'List pending invitations (not used, expired or revoked), without their tokens',
  connects: true,
  options(cmd) {
    cmd.option('--federation <name>', 'only invitations to this federation');
  },
  parse(raw) {
    return { federation: optName(raw, 'federation', 'federation') };
  },
  async run(input, ctx): Promise<Invitation__Output[]> {
    return (await ctx.admin()).listInvitations(input.federation);
  },
  render(invitations) {
    return invitations.length === 0 ? 'No pending invitations.' : invitationsTable(invitations);
  },
  quiet: (invitations) => invitations.map((i) => i.id).join('\n'),
});
