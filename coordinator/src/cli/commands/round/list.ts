import { totalRefusals, type Round__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { arg } from '../../input.js';
import { formatBytes, formatElapsed, formatMetrics, formatTime, table } from '../../render.js';
import { roundState } from '../../views.js';

export default defineCommand({
  path: ['round', 'list'],
  aliases: [['rounds', 'list']],
  summary: 'List the rounds of a run',
  args: [['<run-id>', 'run id']],
  connects: true,
  parse(raw) {
    return { runId: arg(raw, 0) ?? '' };
  },
  async run(input, ctx): Promise<Round__Output[]> {
    return (await ctx.admin()).listRounds(input.runId);
  },
  render(rounds) {
    if (rounds.length === 0) return 'No rounds yet.';
    return table(
      ['ROUND', 'STATE', 'SELECTED', 'ACCEPTED', 'REFUSED', 'FAILED', 'VERSION', 'OPENED', 'DURATION', 'RECEIVED', 'METRICS / FAILURE'],
      rounds.map((r) => [
        String(r.number),
        roundState(r),
        String(r.selectedSites.length),
        String(r.accepted.length),
        String(totalRefusals(r.refused)),
        siteFailures(r),
        r.committedVersion > 0 ? String(r.committedVersion) : '-',
        formatTime(r.openedAtMs),
        r.openedAtMs > 0 && r.closedAtMs > 0 ? formatElapsed(r.closedAtMs - r.openedAtMs) : '-',
        formatBytes(r.bytesReceived),
        r.failureReason !== '' ? r.failureReason : formatMetrics(r.metrics),
      ]),
    );
  },
});

/** `0`, or how many selected sites failed with their names: `1 (site-b)`. */
function siteFailures(r: Round__Output): string {
  const failures = r.siteFailures ?? [];
  return failures.length === 0 ? '0' : `${failures.length} (${failures.map((f) => f.site).join(', ')})`;
}
