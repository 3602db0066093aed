import { Reason, refusalOf, type Refusal, type Task__Output, type UpdateManifest__Output, type UpdateSummary__Output } from '@tributary/proto';
import { membersOf } from '../sites/membership.js';
import type { RoundRecord } from '../state/index.js';
import type { VerifiedUpdate } from '../updates/verified-update.js';
import { armTimer, disarmTimer, emit, settingsOf, type ActiveRun, type RoundServices } from './active-run.js';
import { evaluationTask } from './tasks.js';
import { acceptedRecord, summaryOf } from './update-records.js';

/**
 * Federated evaluation of a committed round's model while it runs: which sites evaluate, the
 * results so far, and the deadline. Kept in memory: after a restart the round's evaluation is
 * marked SKIPPED and the run goes on with the next round.
 */
export interface EvaluationWindow {
  round: RoundRecord;
  selected: string[];
  results: UpdateSummary__Output[];
  /** Selected sites whose evaluation failed (they said so): the evaluation does not wait for them. */
  failed: string[];
  deadlineAtMs: number;
}

/**
 * Selected sites evaluate the newly committed model on their own data; the example-weighted mean
 * of their metrics is stored with the round as `eval_<key>`, and the round's `evaluation` field
 * says where it stands. Every method runs inside the federation's queue.
 */
export class EvaluationPhase {
  constructor(
    private readonly s: RoundServices,
    /** Called once the evaluation is over (all results, or the deadline). */
    private readonly finished: (active: ActiveRun) => Promise<void>,
  ) {}

  /** Opens the evaluation of `round`'s committed model (its `evaluation` is PENDING). */
  async open(active: ActiveRun, round: RoundRecord): Promise<void> {
    const settings = settingsOf(active);
    const eligible = (await membersOf(this.s.state, active.run.federation, { approvedOnly: true })).map((site) => site.name);
    const selected = active.strategy.selectSites(eligible, settings, this.s.random);
    const window: EvaluationWindow = { round, selected, results: [], failed: [], deadlineAtMs: this.s.now() + settings.roundDeadlineSeconds * 1000 };
    active.evaluation = window;
    this.s.logger.info({ runId: active.run.id, round: round.number, selected }, 'evaluation opened');
    emit(this.s, active, 'EVALUATION_OPENED', { round });
    if (selected.length === 0) {
      await this.finish(active);
      return;
    }
    armTimer(this.s, active, window.deadlineAtMs, async () => {
      if (active.evaluation === window) await this.finish(active);
    }, 'evaluation close');
    this.s.tasks.publish(active.run.federation, { task: evaluationTask(active, round, window.deadlineAtMs), selectedSites: selected });
  }

  /** The evaluation task for a site, if it is selected and has not answered yet. */
  taskFor(active: ActiveRun, site: string): Task__Output | undefined {
    const window = active.evaluation;
    if (!window || !window.selected.includes(site) || window.results.some((r) => r.site === site)) return undefined;
    return evaluationTask(active, window.round, window.deadlineAtMs);
  }

  /** Why the evaluation cannot take this result now, or undefined. */
  admissionProblem(active: ActiveRun, manifest: UpdateManifest__Output): Refusal | undefined {
    const window = active.evaluation;
    if (!window || window.round.number !== manifest.round) return refusalOf(Reason.ROUND_NOT_OPEN, `no evaluation is open for round ${manifest.round}`);
    if (this.s.now() > window.deadlineAtMs) return refusalOf(Reason.DEADLINE_PASSED, `the evaluation of round ${manifest.round} closed at its deadline`);
    if (!window.selected.includes(manifest.site)) return refusalOf(Reason.SITE_NOT_SELECTED, `site "${manifest.site}" was not selected to evaluate round ${manifest.round}`);
    if (window.results.some((r) => r.site === manifest.site)) return refusalOf(Reason.ALREADY_DELIVERED, `site "${manifest.site}" already evaluated round ${manifest.round}`);
    return undefined;
  }

  /** Records one site's evaluation result; closes the evaluation once every selected site answered. */
  async accept(active: ActiveRun, update: VerifiedUpdate): Promise<Refusal | undefined> {
    const manifest = update.manifest;
    const late = this.admissionProblem(active, manifest);
    const window = active.evaluation;
    if (late || !window) return late ?? refusalOf(Reason.ROUND_NOT_OPEN, 'no evaluation is open');
    const summary = summaryOf(manifest, this.s.now());
    window.results.push(summary);
    await this.s.state.write([acceptedRecord(manifest, summary, update.manifestSeq)]);
    this.s.logger.info({ runId: manifest.runId, round: manifest.round, site: manifest.site }, 'evaluation received');
    emit(this.s, active, 'EVALUATION_RECEIVED', { update: summary, round: window.round });
    if (window.results.length + window.failed.length >= window.selected.length) await this.finish(active);
    return undefined;
  }

  /**
   * A selected site's evaluation failed: counted, logged and announced (SITE_FAILED), and the
   * evaluation closes once every other selected site answered. Refused when the site has no open
   * evaluation task for that round.
   */
  async siteFailed(active: ActiveRun, site: string, round: number, message: string): Promise<Refusal | undefined> {
    const window = active.evaluation;
    if (!window || window.round.number !== round) return refusalOf(Reason.ROUND_NOT_OPEN, `no evaluation is open for round ${round}`);
    if (!window.selected.includes(site)) return refusalOf(Reason.SITE_NOT_SELECTED, `site "${site}" was not selected to evaluate round ${round}`);
    if (window.results.some((r) => r.site === site)) return refusalOf(Reason.ALREADY_DELIVERED, `site "${site}" already evaluated round ${round}`);
    if (window.failed.includes(site)) return undefined;
    window.failed.push(site);
    this.s.metrics.siteFailures.inc({ reason: Reason.SITE_ERROR });
    this.s.logger.warn({ runId: active.run.id, round, site, message }, 'site failed to evaluate');
    emit(this.s, active, 'SITE_FAILED', { round: window.round, refusal: { site, updateId: '', reason: Reason.SITE_ERROR, message, atMs: this.s.now(), count: 1 } });
    if (window.results.length + window.failed.length >= window.selected.length) await this.finish(active);
    return undefined;
  }

  /**
   * Stores the example-weighted results with the round (DONE) and hands the run back; an
   * evaluation nobody answered is SKIPPED, with no eval_* metrics.
   */
  async finish(active: ActiveRun): Promise<void> {
    disarmTimer(active);
    const window = active.evaluation;
    if (!window) return;
    active.evaluation = undefined;
    const round = window.round;
    if (window.results.length === 0) {
      round.evaluation = 'EVALUATION_STATE_SKIPPED';
      await this.s.state.write([{ kind: 'round', value: round }]);
      this.s.logger.info({ runId: active.run.id, round: round.number }, 'evaluation skipped: no site evaluated');
      emit(this.s, active, 'ROUND_EVALUATED', { round });
      await this.finished(active);
      return;
    }
    const sums = new Map<string, { value: number; weight: number }>();
    for (const r of window.results) {
      for (const [key, value] of Object.entries(r.metrics)) {
        const acc = sums.get(key) ?? { value: 0, weight: 0 };
        acc.value += value * r.numExamples;
        acc.weight += r.numExamples;
        sums.set(key, acc);
      }
    }
    for (const [key, acc] of sums) if (acc.weight > 0) round.metrics[`eval_${key}`] = acc.value / acc.weight;
    round.metrics['eval_num_sites'] = window.results.length;
    round.metrics['eval_num_examples'] = window.results.reduce((sum, r) => sum + r.numExamples, 0);
    round.evaluation = 'EVALUATION_STATE_DONE';
    await this.s.state.write([{ kind: 'round', value: round }]);
    this.s.logger.info({ runId: active.run.id, round: round.number, sites: window.results.length }, 'evaluation closed');
    emit(this.s, active, 'ROUND_EVALUATED', { round });
    await this.finished(active);
  }
}
