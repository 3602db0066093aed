import { Reason, TributaryError, decodeSafetensorsAsync } from '@tributary/proto';
import type { RunRecord } from '../state/index.js';
import type { SlicedSiteUpdate } from '../strategies/index.js';
import { inspectStagedPayload, isTensorFlavor, toFoldable, type FoldPolicy } from '../updates/foldable-update.js';
import { foldPayloadInSlices, foldsInSlices, type SlicingAggregator } from '../updates/sliced-update.js';
import { foldPolicyOf, type ActiveRun, type RoundServices } from './active-run.js';
import type { RoundLifecycle } from './round-lifecycle.js';
import type { ActiveRuns, RunLifecycle } from './run-lifecycle.js';
import { normaliseSettings } from './settings.js';
import { waitingCanHelp } from './site-watch.js';

/**
 * Picks up the runs that were RUNNING when the coordinator last stopped: a round that was open
 * (or closing) is re-folded from the payloads it had accepted, exactly as they were folded live,
 * and closed at once if complete or past its deadline; otherwise the run goes on with its next
 * round. A run that cannot resume is FAILED with RESUME_FAILED on its open round.
 */
export class Recovery {
  constructor(
    private readonly s: RoundServices,
    private readonly active: ActiveRuns,
    private readonly runs: RunLifecycle,
    private readonly rounds: RoundLifecycle,
  ) {}

  async resume(run: RunRecord): Promise<void> {
    try {
      await this.resumeOrThrow(run);
    } catch (err) {
      const e = TributaryError.from(err);
      this.s.logger.error({ runId: run.id, err: e.message }, 'run could not be resumed');
      const open = run.currentRound > 0 ? await this.s.state.getRound(run.id, run.currentRound) : undefined;
      if (open && open.state !== 'ROUND_STATE_COMMITTED' && open.state !== 'ROUND_STATE_FAILED') {
        await this.s.state.write([{ kind: 'round', value: { ...open, state: 'ROUND_STATE_FAILED', failureReason: `${Reason.RESUME_FAILED}: ${e.message}`, closedAtMs: this.s.now() } }]);
      }
      await this.runs.end(run, 'RUN_STATUS_FAILED', `resume failed: ${e.message}`);
    }
  }

  private async resumeOrThrow(run: RunRecord): Promise<void> {
    const federation = await this.runs.federationOf(run);
    const version = await this.s.state.getModelVersion(run.federation, run.latestVersion);
    if (!version) throw TributaryError.notFound(`model version ${run.latestVersion} is missing`);
    const settings = run.settings ?? normaliseSettings(federation.settings);
    const strategy = this.s.strategies.get(settings.strategy);
    const active: ActiveRun = {
      run,
      federation,
      strategy,
      model: await this.runs.loadModel(version, strategy),
      // Only a version this run committed carries this run's strategy state.
      serverState: version.runId === run.id && version.strategyStateSha256 ? (await decodeSafetensorsAsync(await this.s.blobs.read(version.strategyStateSha256))).tensors : {},
    };
    this.active.add(active);
    const round = run.currentRound > 0 ? await this.s.state.getRound(run.id, run.currentRound) : undefined;
    if (!round || round.state === 'ROUND_STATE_COMMITTED' || round.state === 'ROUND_STATE_FAILED') {
      if (round?.evaluation === 'EVALUATION_STATE_PENDING') {
        // Evaluations live in memory: the one under way when the coordinator stopped is abandoned.
        round.evaluation = 'EVALUATION_STATE_SKIPPED';
        await this.s.state.write([{ kind: 'round', value: round }]);
      }
      await this.runs.advance(active);
      return;
    }
    round.state = 'ROUND_STATE_OPEN';
    active.round = round;
    const aggregator = active.strategy.createAggregator(this.rounds.aggregatorContext(active, round));
    active.aggregator = aggregator;
    const policy = foldPolicyOf(active);
    const folds = this.s.delegatedFolds;
    for (const u of round.accepted) {
      const update = { site: u.site, updateId: u.updateId, numExamples: u.numExamples, metrics: u.metrics };
      // A payload an aggregation worker folded was never kept here: it is read again from the data plane.
      const delegated = folds !== undefined && !(await this.s.blobs.has(u.payloadSha256));
      if (!delegated && foldsInSlices(aggregator) && isTensorFlavor(u.flavor) && (await this.refoldInSlices(aggregator, update, u.payloadSha256, policy))) continue;
      const payload = delegated ? await folds.payloadOf(run.federation, u) : await this.s.blobs.read(u.payloadSha256);
      const { tensors } = await toFoldable(payload, u.flavor, policy);
      await aggregator.fold({ ...update, flavor: u.flavor || 'tensors', tensors });
    }
    this.s.logger.info({ runId: run.id, round: round.number, refolded: round.accepted.length }, 'run resumed');
    // Sites that failed before the stop stay failed: they do not hold the round open.
    if (!waitingCanHelp(round, settings.minSites) || this.s.now() >= this.rounds.closesAtMs(active, round)) {
      await this.rounds.close(active);
    } else {
      this.rounds.armDeadline(active);
    }
  }

  /**
   * Re-folds an accepted payload from its blob slice by slice, as it was folded live: inspected
   * again for its layout and norm (bounded memory, a second read), then folded. False when it
   * cannot be, and it is decoded whole instead.
   */
  private async refoldInSlices(aggregator: SlicingAggregator, update: Omit<SlicedSiteUpdate, 'specs' | 'values'>, sha256: string, policy: FoldPolicy): Promise<boolean> {
    // An inline blob is small: decoded whole.
    const path = await this.s.blobs.filePath(sha256);
    if (path === undefined) return false;
    const inspected = await inspectStagedPayload(path, await this.s.blobs.size(sha256), 'tensors', policy);
    if (!inspected.ok || inspected.layout === undefined) return false;
    return (await foldPayloadInSlices(aggregator, update, { path, layout: inspected.layout, norm: inspected.norm }, policy)) !== undefined;
  }
}
