import type { Invitation__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { arg } from '../../input.js';
import { list } from '../../render.js';

export default defineCommand({
  path: ['site', 'uninvite'],
  summary: 'Revoke a pending invitation: its token no longer enrolls a site',
  args: [['<id>', 'invitation id, as `tributary site invitations` shows it']],
  connects: true,
  parse(raw) {
    // An id of no invitation is the coordinator's to refuse (NOT_FOUND), whatever its shape.
    return { id: arg(raw, 0) ?? '' };
  },
  async run(input, ctx): Promise<Invitation__Output> {
    return (await ctx.admin()).revokeInvitation(input.id);
  },
  render(inv) {
    return `Revoked invitation ${inv.id} (${inv.siteName === '' ? 'any site' : `site "${inv.siteName}"`}, to ${list(inv.federations)}): its token no longer enrolls.`;
  },
});
