import type { ModelVersion__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { nameArg } from '../../input.js';
import { formatBytes, formatMetrics, formatTime, table } from '../../render.js';

export default defineCommand({
  path: ['model', 'list'],
  aliases: [['model', 'versions']],
  summary: "List a federation's model versions with their lineage",
  args: [['<federation>', 'federation name']],
  connects: true,
  parse(raw) {
    return { federation: nameArg(raw, 0, 'federation') };
  },
  async run(input, ctx): Promise<ModelVersion__Output[]> {
    return (await ctx.admin()).listModelVersions(input.federation);
  },
  render(versions) {
    if (versions.length === 0) return 'No model versions.';
    return table(
      ['VERSION', 'PARENT', 'RUN', 'ROUND', 'SITES', 'SIZE', 'SHA256', 'CREATED', 'METRICS'],
      versions.map((v) => [
        String(v.version),
        v.parentVersion > 0 ? String(v.parentVersion) : '-',
        v.runId || '-',
        v.round > 0 ? String(v.round) : '-',
        v.contributions.length === 0 ? '-' : v.contributions.map((c) => c.site).join(','),
        formatBytes(v.size),
        v.sha256.slice(0, 12),
        formatTime(v.createdAtMs),
        formatMetrics(v.metrics),
      ]),
    );
  },
});
