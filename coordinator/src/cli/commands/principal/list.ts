import type { Principal__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { enumLabel, formatTime, list, table } from '../../render.js';

export default defineCommand({
  path: ['principal', 'list'],
  summary: 'List principals: the owner keys and those added at run time',
  connects: true,
  parse() {
    return {};
  },
  async run(_input, ctx): Promise<Principal__Output[]> {
    return (await ctx.admin()).listPrincipals();
  },
  render(principals) {
    return table(
      ['NAME', 'STATUS', 'KEY ID', 'GROUPS', 'ADDED', 'BY'],
      principals.map((p) => [
        p.name,
        p.owner ? 'OWNER' : enumLabel(p.status, 'PRINCIPAL_STATUS_'),
        p.keyId,
        list(p.groups),
        formatTime(p.createdAtMs),
        p.addedBy === '' ? '-' : p.addedBy,
      ]),
    );
  },
});
