import { assertName } from '@tributary/proto';
import type { Grant__Output } from '@tributary/proto';
import { defineCommand } from '../command.js';
import { optString } from '../input.js';
import { formatTime, table } from '../render.js';

export default defineCommand({
  path: ['grants'],
  summary: 'List grants on the federations you may read',
  connects: true,
  options(cmd) {
    cmd.option('--principal <name>', 'only grants that apply to this principal (directly or through its groups)').option('--federation <name>', 'only grants on this federation or on federation:*');
  },
  parse(raw) {
    const principal = optString(raw, 'principal');
    const federation = optString(raw, 'federation');
    return {
      ...(principal === undefined ? {} : { principal: assertName('principal', principal) }),
      ...(federation === undefined ? {} : { federation: assertName('federation', federation) }),
    };
  },
  async run(filter, ctx): Promise<Grant__Output[]> {
    return (await ctx.admin()).listGrants(filter);
  },
  render(grants) {
    if (grants.length === 0) return 'No grants.';
    return table(
      ['PRIVILEGE', 'RESOURCE', 'GRANTEE', 'GRANTED BY', 'AT'],
      grants.map((g) => [g.privilege, g.resource, g.grantee, g.grantedBy, formatTime(g.grantedAtMs)]),
    );
  },
});
