import type { Federation__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { formatTime, table } from '../../render.js';

export default defineCommand({
  path: ['federation', 'list'],
  summary: 'List federations',
  connects: true,
  parse() {
    return {};
  },
  async run(_input, ctx): Promise<Federation__Output[]> {
    return (await ctx.admin()).listFederations();
  },
  render(federations) {
    if (federations.length === 0) return 'No federations.';
    return table(
      ['NAME', 'STRATEGY', 'ROUNDS', 'MIN SITES', 'SITES', 'VERSION', 'CREATED', 'DESCRIPTION'],
      federations.map((f) => [
        f.name,
        f.settings?.strategy || '-',
        String(f.settings?.rounds ?? 0),
        String(f.settings?.minSites ?? 0),
        f.revokedSites.length === 0 ? String(f.sites.length) : `${f.sites.length} (${f.revokedSites.length} revoked)`,
        String(f.latestVersion),
        formatTime(f.createdAtMs),
        f.description,
      ]),
    );
  },
});
