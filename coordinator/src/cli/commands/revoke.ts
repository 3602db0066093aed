import { formatGrantee, formatResource, parseGrantSpec, type Grant__Output } from '@tributary/proto';
import { defineCommand } from '../command.js';
import { arg } from '../input.js';

export default defineCommand({
  path: ['revoke'],
  summary: 'Remove a grant of read, operate or admin from a principal or a group',
  args: [
    ['<privilege>', 'read, operate or admin'],
    ['<resource>', 'federation:<name> or federation:*'],
    ['<grantee>', 'principal:<name> or group:<name>'],
  ],
  connects: true,
  parse(raw) {
    return parseGrantSpec({ privilege: arg(raw, 0), resource: arg(raw, 1), grantee: arg(raw, 2) });
  },
  async run(spec, ctx): Promise<Grant__Output> {
    return (await ctx.admin()).revokeGrant({ privilege: spec.privilege, resource: formatResource(spec.federation), grantee: formatGrantee(spec.grantee) });
  },
  render(g) {
    return `Revoked ${g.privilege} on ${g.resource} from ${g.grantee}.`;
  },
});
