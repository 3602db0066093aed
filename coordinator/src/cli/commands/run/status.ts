import type { Round__Output, Run__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { arg } from '../../input.js';
import { enumLabel, fields, formatElapsed, formatTime } from '../../render.js';
import { runElapsedMs, runStatus } from '../../views.js';
import { progressLine } from './watch.js';

export interface RunStatusResult {
  readonly run: Run__Output;
  /** The round in progress, or the last one; absent before the first round. */
  readonly round?: Round__Output;
}

export default defineCommand({
  path: ['run', 'status'],
  summary: 'Show a run and its current round',
  args: [['<run-id>', 'run id']],
  connects: true,
  parse(raw) {
    return { runId: arg(raw, 0) ?? '' };
  },
  async run(input, ctx): Promise<RunStatusResult> {
    const admin = await ctx.admin();
    const run = await admin.getRun(input.runId);
    if (run.currentRound === 0) return { run };
    return { run, round: await admin.getRound(run.id, run.currentRound) };
  },
  render({ run, round }) {
    const s = run.settings;
    return [
      fields([
        ['run', run.id],
        ['federation', run.federation],
        ['status', runStatus(run)],
        ['failure', run.failureReason === '' ? undefined : run.failureReason],
        ['round', `${run.currentRound}/${run.rounds}`],
        ['started', formatTime(run.startedAtMs)],
        ['ended', run.endedAtMs > 0 ? formatTime(run.endedAtMs) : undefined],
        ['elapsed', formatElapsed(runElapsedMs(run))],
        ['model version', `${run.latestVersion} (started from ${run.startVersion})`],
        ['strategy', s === null ? undefined : s.strategy],
        ['on round failure', s === null ? undefined : enumLabel(s.onRoundFailure, 'ROUND_FAILURE_POLICY_')],
        ['on site error', s === null ? undefined : s.onSiteError || 'ignore'],
      ]),
      ...(round === undefined ? [] : ['', progressLine(run, round, '').replace(`run ${run.id}  `, '')]),
      ...(round === undefined || (round.siteFailures ?? []).length === 0 ? [] : ['', 'Site failures:', ...round.siteFailures.map((f) => `  ${f.site}  ${f.reason}  ${f.message}`)]),
    ].join('\n');
  },
});
