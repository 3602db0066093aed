import { MAX_SITE_FAILURE_MESSAGE_CHARS, Reason, TributaryError, printableFailureMessage, quoted, type ReasonCode, type SiteFailure__Output } from '@tributary/proto';
import type { RoundServices } from './active-run.js';
import type { EvaluationPhase } from './evaluation-phase.js';
import type { ActiveRuns } from './run-lifecycle.js';
import type { SerialQueues } from './serial-queues.js';
import type { SiteHeartbeat, SiteWatch } from './site-watch.js';

/** Which round of which run a site's report names. */
export interface RoundRef {
  federation: string;
  runId: string;
  round: number;
}

/**
 * What sites tell the coordinator about their work on a round over SiteService: that their task
 * failed, and heartbeats while they train and upload. Each report is checked against the run and
 * its open round in the federation's queue; a refused one is counted and changes nothing.
 */
export class SiteReports {
  constructor(
    private readonly s: RoundServices,
    private readonly active: ActiveRuns,
    private readonly queues: SerialQueues,
    private readonly watch: SiteWatch,
    private readonly evaluation: EvaluationPhase,
  ) {}

  /** Records that `site`'s task in the round failed (SITE_ERROR); a repeat answers the first record. */
  async reportFailure(site: string, ref: RoundRef, message: string, kind: string): Promise<SiteFailure__Output> {
    if (kind !== '' && kind !== 'train' && kind !== 'evaluate') {
      return this.refuse('ReportTaskFailure', Reason.INVALID_ARGUMENT, `task_kind must be "train" or "evaluate", not ${quoted(kind)}`);
    }
    if (message.length > MAX_SITE_FAILURE_MESSAGE_CHARS) {
      return this.refuse('ReportTaskFailure', Reason.INVALID_ARGUMENT, `message holds ${message.length} characters, at most ${MAX_SITE_FAILURE_MESSAGE_CHARS} are taken`);
    }
    const text = printableFailureMessage(message) || 'the site reported no message';
    return this.queues.run(ref.federation, async () => {
      const active = await this.runOf(ref, 'ReportTaskFailure');
      if (kind === 'evaluate') {
        // Evaluations live in memory and commit nothing: the failure is counted and announced, not stored.
        const refused = await this.evaluation.siteFailed(active, site, ref.round, text);
        if (refused) return this.refuse('ReportTaskFailure', refused.reason, refused.message);
        return { site, reason: Reason.SITE_ERROR, message: text, atMs: this.s.now() };
      }
      const earlier = this.watch.failureOf(active, site);
      if (earlier && active.round?.number === ref.round) return earlier;
      const problem = this.watch.problem(active, site, ref.round);
      if (problem) return this.refuse('ReportTaskFailure', problem.reason, problem.message);
      return this.watch.fail(active, site, Reason.SITE_ERROR, text);
    });
  }

  /**
   * Records a heartbeat; answers whether the site should go on with the round. It only touches
   * memory, so it does not wait behind the federation's queue (a long fold): a heartbeat is
   * never late because the coordinator was busy.
   */
  async heartbeat(site: string, ref: RoundRef, beat: SiteHeartbeat): Promise<boolean> {
    const active = await this.runOf(ref, 'Heartbeat');
    const problem = this.watch.problem(active, site, ref.round);
    // A round the site is done with (or that moved on) is answered "stop", not refused.
    if (problem?.reason === Reason.SITE_NOT_SELECTED) return this.refuse('Heartbeat', problem.reason, problem.message);
    if (problem) return false;
    return this.watch.heartbeat(active, site, beat);
  }

  /** The running run the report names, in its federation. */
  private async runOf(ref: RoundRef, kind: string) {
    const active = this.active.get(ref.runId);
    if (active && active.run.federation === ref.federation) return active;
    const stored = await this.s.state.getRun(ref.runId);
    if (!stored || stored.federation !== ref.federation) return this.refuse(kind, Reason.RUN_NOT_FOUND, `run "${ref.runId}" does not exist in federation "${ref.federation}"`);
    return this.refuse(kind, Reason.RUN_NOT_RUNNING, `run "${ref.runId}" is ${stored.status.replace('RUN_STATUS_', '')}`);
  }

  private refuse(kind: string, reason: string, message: string): never {
    this.s.metrics.siteReportsRefused.inc({ kind, reason });
    this.s.logger.info({ kind, reason, message }, 'site report refused');
    throw TributaryError.of(reason as ReasonCode, message);
  }
}
