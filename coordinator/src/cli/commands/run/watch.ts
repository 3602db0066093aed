import { Reason, refusalCount, roundCounts, TributaryError, type Round__Output, type Run__Output, type RunEvent__Output } from '@tributary/proto';
import type { AdminClient } from '../../../admin-client.js';
import { defineCommand } from '../../command.js';
import type { CommandContext } from '../../command.js';
import { arg } from '../../input.js';
import { formatElapsed, formatMetrics } from '../../render.js';
import { roundState, runStatus, runSummary } from '../../views.js';

export default defineCommand({
  path: ['run', 'watch'],
  summary: 'Follow a run live until it ends (exit 0 if it FINISHED, 1 otherwise)',
  args: [['<run-id>', 'run id']],
  connects: true,
  handlesInterrupt: true,
  parse(raw) {
    return { runId: arg(raw, 0) ?? '' };
  },
  async run(input, ctx): Promise<Run__Output> {
    return followRun(await ctx.admin(), input.runId, ctx);
  },
  render: runSummary,
  exitCode: exitCodeOfRun,
  failure: failureOfRun,
});

/** A run that ended FAILED or KILLED, as the failure of a command that watched it. */
export function failureOfRun(run: Run__Output): TributaryError | undefined {
  if (exitCodeOfRun(run) === 0) return undefined;
  return TributaryError.of(Reason.FAILED_PRECONDITION, runSummary(run), {
    details: { hint: `\`tributary round list ${run.id}\` shows which round failed and why.` },
  });
}

/** 0 for a FINISHED (or still RUNNING) run, 1 for FAILED or KILLED. */
export function exitCodeOfRun(run: Run__Output): number {
  return run.status === 'RUN_STATUS_FINISHED' || run.status === 'RUN_STATUS_RUNNING' ? 0 : 1;
}

/** Follows a run to its end, drawing a progress line per round (live on a terminal). */
export async function followRun(admin: AdminClient, runId: string, ctx: CommandContext): Promise<Run__Output> {
  const view: { run?: Run__Output; round?: Round__Output } = {};
  const draw = (note = ''): void => {
    if (view.run !== undefined) ctx.progress.update(progressLine(view.run, view.round, note));
  };
  const ticker = ctx.progress.tty ? setInterval(() => draw(), 1000) : undefined;
  ticker?.unref();
  try {
    return await watchRun();
  } catch (err) {
    if (!ctx.signal.aborted) throw err;
    // Ctrl-C stops the watch, not the run.
    throw TributaryError.of(Reason.CANCELLED, `Stopped watching run ${runId}${view.run === undefined ? '' : ` at round ${view.run.currentRound}/${view.run.rounds}`}; the run goes on.`, {
      code: 'CANCELLED',
      cause: err,
      details: { hint: `\`tributary run status ${runId}\` shows it; \`tributary run watch ${runId}\` follows it again.` },
    });
  } finally {
    if (ticker !== undefined) clearInterval(ticker);
    ctx.progress.done();
  }

  function watchRun(): Promise<Run__Output> {
    return admin.waitForRun(runId, {
      signal: ctx.signal,
      onEvent: (event: RunEvent__Output) => {
        if (event.run !== null) view.run = event.run;
        if (event.round !== null) {
          view.round = event.round;
          if (view.run !== undefined && event.round.number > view.run.currentRound) {
            view.run = { ...view.run, currentRound: event.round.number };
          }
        }
        if (view.run === undefined) return;
        switch (event.type) {
          case 'ROUND_COMMITTED':
          case 'ROUND_FAILED':
            if (view.round !== undefined) ctx.progress.line(progressLine(view.run, view.round, ''));
            return;
          case 'UPDATE_ACCEPTED':
            return draw(event.update === null ? '' : `accepted ${event.update.site}`);
          case 'UPDATE_REFUSED':
            return draw(event.refusal === null ? '' : `refused ${event.refusal.site || '?'}: ${event.refusal.reason}${refusalCount(event.refusal) > 1 ? ` (x${refusalCount(event.refusal)})` : ''}`);
          case 'SITE_FAILED':
            return draw(event.refusal === null ? '' : `failed ${event.refusal.site}: ${event.refusal.reason}`);
          case 'RUN_ENDED':
            return;
          default:
            return draw();
        }
      },
    });
  }
}

/** `run 3f2a round 2/5  OPEN  accepted 1/3  refused 0  elapsed 12.3s` */
export function progressLine(run: Run__Output, round: Round__Output | undefined, note: string, nowMs = Date.now()): string {
  const parts = [`run ${run.id}`];
  if (round === undefined || round.number === 0) {
    parts.push(`round 0/${run.rounds}`, runStatus(run), 'waiting for the first round');
  } else {
    const counts = roundCounts(round);
    const elapsed = round.openedAtMs > 0 ? (round.closedAtMs > 0 ? round.closedAtMs : nowMs) - round.openedAtMs : 0;
    parts.push(
      `round ${round.number}/${run.rounds}`,
      roundState(round),
      `accepted ${counts.accepted}/${counts.selected}`,
      `refused ${counts.refused}`,
      `elapsed ${formatElapsed(elapsed)}`,
    );
    if (round.state === 'ROUND_STATE_COMMITTED') {
      parts.push(`version ${round.committedVersion}`);
      if (Object.keys(round.metrics).length > 0) parts.push(formatMetrics(round.metrics));
    }
    if (round.state === 'ROUND_STATE_FAILED' && round.failureReason !== '') parts.push(round.failureReason);
  }
  if (note !== '') parts.push(`(${note})`);
  return parts.join('  ');
}
