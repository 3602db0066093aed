import { Reason, TributaryError, allFiniteAsync, refusalOf, type ReasonCode, type Refusal, type Refusal__Output, type UpdateManifest__Output, type UpdateSummary__Output } from '@tributary/proto';
import { join } from 'node:path';
import { prepareModelVersion } from '../models/model-version.js';
import { membersOf } from '../sites/membership.js';
import type { RoundRecord } from '../state/index.js';
import type { AggregateResult, RoundContext } from '../strategies/index.js';
import { isTensorFlavor, toFoldable } from '../updates/foldable-update.js';
import { StoredModel } from '../updates/global-model-values.js';
import { foldPayloadInSlices, foldPayloadsInSlices, foldsInSlices, foldsTogetherInSlices, foldsWithoutDecoding } from '../updates/sliced-update.js';
import { forgetUnrecorded, type VerifiedUpdate } from '../updates/verified-update.js';
import { armTimer, disarmTimer, emit, emitEach, foldPolicyOf, settingsOf, type ActiveRun, type RoundServices } from './active-run.js';
import { recordRefusal } from './round-refusals.js';
import { trainingTask } from './tasks.js';
import { acceptedRecord, summaryOf } from './update-records.js';

/** What happens after a round closes; the run decides (evaluate, next round, end). */
export interface RoundOutcomes {
  committed(active: ActiveRun, round: RoundRecord): Promise<void>;
  failed(active: ActiveRun, round: RoundRecord, reason: string): Promise<void>;
}

/** How the site watch takes part in the round's deadline (`rounds/site-watch.ts`). */
export interface RoundDeadlineHooks {
  /** The open round's close was (re)armed. */
  armed(active: ActiveRun): void;
  /** At the deadline: a later time to look again (uploads still moving), or undefined to close now. */
  extendPastDeadline(active: ActiveRun, round: RoundRecord): Promise<number | undefined>;
  /** Whether the round still takes this site's update past its deadline. */
  graced(active: ActiveRun, round: RoundRecord, site: string): boolean;
}

/**
 * One round of a run: PENDING -> OPEN -> AGGREGATING -> COMMITTED, or FAILED with a reason.
 * Opens it (sampling, task offer, deadline), folds verified updates as they arrive, closes it at
 * quorum of all selected sites or at the deadline, and commits the model version.
 * Every method runs inside the federation's queue.
 */
export class RoundLifecycle {
  constructor(
    private readonly s: RoundServices,
    private readonly outcomes: RoundOutcomes,
    private readonly deadlines?: RoundDeadlineHooks,
  ) {}

  /** Opens round `run.currentRound + 1`. */
  async open(active: ActiveRun): Promise<void> {
    const run = active.run;
    const settings = settingsOf(active);
    const number = run.currentRound + 1;
    const eligible = (await membersOf(this.s.state, run.federation, { approvedOnly: true })).map((site) => site.name);
    const selected = active.strategy.selectSites(eligible, settings, this.s.random);
    const opened = this.s.now();
    const ctx = { federation: run.federation, runId: run.id, round: number, modelSpec: active.federation.modelSpec, options: settings.strategyOptions };
    const round: RoundRecord = {
      federation: run.federation,
      runId: run.id,
      number,
      state: 'ROUND_STATE_OPEN',
      selectedSites: selected,
      accepted: [],
      refused: [],
      openedAtMs: opened,
      deadlineAtMs: opened + settings.roundDeadlineSeconds * 1000,
      closedAtMs: 0,
      failureReason: '',
      baseVersion: run.latestVersion,
      committedVersion: 0,
      metrics: {},
      bytesReceived: 0,
      config: active.strategy.siteConfig(ctx),
      evaluation: 'EVALUATION_STATE_NONE',
      siteFailures: [],
      extendedUntilMs: 0,
    };
    // Memory follows the state store, never leads it: a failed write leaves both as they were.
    await this.s.state.write([
      { kind: 'run', value: { ...run, currentRound: number } },
      { kind: 'round', value: round },
    ]);
    run.currentRound = number;
    active.round = round;
    active.aggregator = active.strategy.createAggregator(this.aggregatorContext(active, round));
    this.s.logger.info({ runId: run.id, round: number, selected }, 'round opened');
    emit(this.s, active, 'ROUND_OPENED');
    if (selected.length < settings.minSites) {
      await this.fail(active, `${Reason.QUORUM_NOT_MET}: ${eligible.length} eligible site(s), ${selected.length} selected, min_sites is ${settings.minSites}`);
      return;
    }
    this.armDeadline(active);
    this.s.tasks.publish(run.federation, { task: trainingTask(active, round), selectedSites: selected });
  }

  /** Why the open round cannot take this manifest now, or undefined. */
  admissionProblem(active: ActiveRun, manifest: UpdateManifest__Output): Refusal | undefined {
    const round = active.round;
    if (!round || manifest.round !== round.number) {
      return refusalOf(Reason.WRONG_ROUND, `round ${manifest.round} is not the current round${round ? ` (${round.number})` : ''}`);
    }
    if (round.state !== 'ROUND_STATE_OPEN') return refusalOf(Reason.ROUND_NOT_OPEN, `round ${round.number} is ${round.state.replace('ROUND_STATE_', '')}`);
    if (this.s.now() > round.deadlineAtMs && !this.deadlines?.graced(active, round, manifest.site)) return refusalOf(Reason.DEADLINE_PASSED, `round ${round.number} closed at its deadline`);
    if (!round.selectedSites.includes(manifest.site)) return refusalOf(Reason.SITE_NOT_SELECTED, `site "${manifest.site}" was not selected for round ${round.number}`);
    const failure = round.siteFailures?.find((f) => f.site === manifest.site);
    if (failure) return refusalOf(failure.reason as ReasonCode, `site "${manifest.site}" failed in round ${round.number} (${failure.reason}): it is out of the round`);
    if (round.accepted.some((u) => u.site === manifest.site)) {
      return refusalOf(Reason.ALREADY_DELIVERED, `site "${manifest.site}" already delivered an update for round ${round.number}`);
    }
    if (manifest.baseVersion !== 0 && manifest.baseVersion !== round.baseVersion) {
      return refusalOf(Reason.WRONG_ROUND, `update trained from model version ${manifest.baseVersion}, round ${round.number} hands out version ${round.baseVersion}`);
    }
    return undefined;
  }

  /**
   * Takes a group of verified updates into the open round: each is checked against the round
   * again, their payloads go into the blob store together, each is decoded and folded in turn,
   * and every update folded is recorded with the round's progress in one synced write. Only then
   * does memory count them and do their verdicts go out, so an update is acknowledged only once
   * it is durable. Each update settles on its own: undefined (accepted), a refusal, or a failure
   * (its payload could not be kept: it is left for redelivery). A failed write throws: the store
   * is fenced, and none of the group is acknowledged.
   */
  async foldGroup(active: ActiveRun, updates: readonly VerifiedUpdate[]): Promise<Array<PromiseSettledResult<Refusal | undefined>>> {
    const outcomes: Array<PromiseSettledResult<Refusal | undefined>> = updates.map(() => ({ status: 'fulfilled', value: undefined }));
    const refuse = (i: number, refusal: Refusal): void => {
      outcomes[i] = { status: 'fulfilled', value: refusal };
    };
    const round = active.round;
    const taking: number[] = [];
    const delivering = new Set<string>();
    updates.forEach((update, i) => {
      const manifest = update.manifest;
      const late =
        this.admissionProblem(active, manifest) ??
        (delivering.has(manifest.site) ? refusalOf(Reason.ALREADY_DELIVERED, `site "${manifest.site}" already delivered an update for round ${manifest.round}`) : undefined);
      if (late || !round || !active.aggregator) refuse(i, late ?? refusalOf(Reason.ROUND_NOT_OPEN, 'the round is not open'));
      else {
        taking.push(i);
        delivering.add(manifest.site);
      }
    });
    if (!round || taking.length === 0) return outcomes;
    // Keep the verified payloads, all at once: lineage points at them, and a restart re-folds the
    // open round from them. A payload kept for an update that is not recorded after all is taken
    // back (`forgetUnrecorded`), so no blob is left that no record names.
    const kept = await Promise.allSettled(taking.map((i) => (updates[i] as VerifiedUpdate).commit()));
    const results = await this.foldInOrder(active, taking.filter((_, k) => kept[k]!.status === 'fulfilled').map((i) => updates[i] as VerifiedUpdate));
    const folded: Array<{ update: VerifiedUpdate; summary: UpdateSummary__Output; clipped: boolean }> = [];
    const unrecorded: VerifiedUpdate[] = [];
    for (const [k, i] of taking.entries()) {
      const update = updates[i] as VerifiedUpdate;
      const stored = kept[k] as PromiseSettledResult<void>;
      if (stored.status === 'rejected') {
        outcomes[i] = stored;
        continue;
      }
      // A worker folded it already: its partial is combined at close.
      const result = update.foldedBy !== undefined ? { clipped: update.clippedByWorker } : results.get(update)!;
      if ('refusal' in result) {
        refuse(i, result.refusal);
        unrecorded.push(update);
      } else folded.push({ update, summary: summaryOf(update.manifest, this.s.now()), clipped: result.clipped });
    }
    await forgetUnrecorded(unrecorded, folded.map((f) => f.update), this.orphanNotRemoved);
    if (folded.length === 0) return outcomes;
    // The round as it is once these updates count; memory takes it only after the synced write.
    // (The aggregator already holds them: after a failed write the store is fenced, nothing
    // more commits, and a restart re-folds from what was written.)
    const clipped = folded.filter((f) => f.clipped).length;
    const metrics = clipped > 0 ? { ...round.metrics, clipped_updates: (round.metrics['clipped_updates'] ?? 0) + clipped } : round.metrics;
    const counted: RoundRecord = {
      ...round,
      accepted: [...round.accepted, ...folded.map((f) => f.summary)],
      bytesReceived: folded.reduce((sum, f) => sum + f.update.bytes, round.bytesReceived),
      metrics,
    };
    try {
      // Small payloads are kept inline, in this same synced batch: stored before acknowledged.
      const inline = folded.flatMap((f) => f.update.inlineWrite() ?? []);
      await this.s.state.write([...inline, ...folded.map((f) => acceptedRecord(f.update.manifest, f.summary, f.update.manifestSeq)), { kind: 'round', value: counted }]);
    } catch (err) {
      // The batch is dropped (the store is fenced; the next open discards a torn record), so
      // nothing names these payloads.
      await forgetUnrecorded(folded.map((f) => f.update), [], this.orphanNotRemoved);
      throw err;
    }
    const before = round.accepted.length;
    Object.assign(round, counted);
    for (const { update } of folded) {
      const manifest = update.manifest;
      this.s.metrics.updatesAccepted.inc();
      this.s.metrics.bytesReceived.inc(update.bytes);
      this.s.logger.info({ runId: manifest.runId, round: manifest.round, site: manifest.site, updateId: manifest.updateId }, 'update accepted');
    }
    emitEach(this.s, active, 'UPDATE_ACCEPTED', folded.map(({ summary }) => ({ update: summary })));
    if (folded.length > 1) this.s.logger.debug({ runId: active.run.id, round: round.number, updates: folded.length }, 'updates accepted in one write');
    const minSites = settingsOf(active).minSites;
    // Sites that failed in the round will not deliver: the others complete it.
    if (round.accepted.length + (round.siteFailures?.length ?? 0) >= round.selectedSites.length) await this.close(active);
    // With wait_after_quorum, quorum brings the close forward.
    else if (before < minSites && round.accepted.length >= minSites) this.armDeadline(active);
    return outcomes;
  }

  /**
   * Folds the updates a worker has not folded, in their order: consecutive ones read from their
   * files are folded together when the aggregator takes several at once (one pass over its sums
   * for several updates, the same aggregate to the last bit), the others one by one.
   */
  private async foldInOrder(active: ActiveRun, updates: readonly VerifiedUpdate[]): Promise<Map<VerifiedUpdate, { clipped: boolean } | { refusal: Refusal }>> {
    const results = new Map<VerifiedUpdate, { clipped: boolean } | { refusal: Refusal }>();
    const aggregator = active.aggregator !== undefined && foldsTogetherInSlices(active.aggregator) ? active.aggregator : undefined;
    const policy = foldPolicyOf(active);
    const together = (u: VerifiedUpdate): boolean =>
      aggregator !== undefined && u.payloadFile() !== undefined && u.layout !== undefined && isTensorFlavor(u.manifest.flavor) && foldsWithoutDecoding(u.norm, policy);
    const pending = updates.filter((u) => u.foldedBy === undefined);
    for (let i = 0; i < pending.length; ) {
      let end = i;
      while (end < pending.length && together(pending[end]!)) end++;
      if (end - i < 2) {
        results.set(pending[i]!, await this.foldOne(active, pending[i]!));
        i++;
        continue;
      }
      const run = pending.slice(i, end);
      const folded = await foldPayloadsInSlices(aggregator!, run.map((u) => ({
        update: { site: u.manifest.site, updateId: u.manifest.updateId, numExamples: u.manifest.numExamples, metrics: u.manifest.metrics },
        payload: { path: u.payloadFile()!, layout: u.layout!, norm: u.norm },
      })), policy);
      for (const [k, u] of run.entries()) {
        const f = folded[k]!;
        if (f.status === 'rejected') results.set(u, { refusal: slicedFoldRefusal(f.reason) });
        // Not folded (`together` rules it out): decoded whole instead.
        else if (f.value === undefined) results.set(u, await this.foldOne(active, u));
        else {
          if (f.value.clipped) this.s.logger.info({ runId: u.manifest.runId, site: u.manifest.site, norm: f.value.norm }, 'update clipped to the norm bound');
          results.set(u, { clipped: f.value.clipped });
        }
      }
      i = end;
    }
    return results;
  }

  /**
   * Folds a verified update into the round's aggregator: read from its file slice by slice when
   * the aggregator takes slices, else decoded whole.
   */
  private async foldOne(active: ActiveRun, update: VerifiedUpdate): Promise<{ clipped: boolean } | { refusal: Refusal }> {
    const manifest = update.manifest;
    const aggregator = active.aggregator;
    if (!aggregator) return { refusal: refusalOf(Reason.ROUND_NOT_OPEN, 'the round is not open') };
    const policy = foldPolicyOf(active);
    const file = update.payloadFile();
    if (foldsInSlices(aggregator) && file !== undefined && update.layout !== undefined && isTensorFlavor(manifest.flavor)) {
      try {
        const payload = { path: file, layout: update.layout, norm: update.norm };
        const sliced = await foldPayloadInSlices(aggregator, { site: manifest.site, updateId: manifest.updateId, numExamples: manifest.numExamples, metrics: manifest.metrics }, payload, policy);
        if (sliced !== undefined) {
          if (sliced.clipped) this.s.logger.info({ runId: manifest.runId, site: manifest.site, norm: sliced.norm }, 'update clipped to the norm bound');
          return { clipped: sliced.clipped };
        }
      } catch (err) {
        return { refusal: slicedFoldRefusal(err) };
      }
    }
    let foldable;
    try {
      foldable = await toFoldable(await update.payload(), manifest.flavor, policy, update.layout);
    } catch (err) {
      const e = TributaryError.from(err);
      return { refusal: refusalOf(e.reason === Reason.INTERNAL ? Reason.MALFORMED_PAYLOAD : e.reason, `payload cannot be folded: ${e.message}`) };
    }
    if (foldable.clipped) this.s.logger.info({ runId: manifest.runId, site: manifest.site, norm: foldable.norm }, 'update clipped to the norm bound');
    try {
      await aggregator.fold({
        site: manifest.site,
        updateId: manifest.updateId,
        numExamples: manifest.numExamples,
        metrics: manifest.metrics,
        flavor: manifest.flavor || 'tensors',
        tensors: foldable.tensors,
      });
    } catch (err) {
      const e = TributaryError.from(err);
      return { refusal: refusalOf(e.reason === Reason.INTERNAL ? Reason.STRATEGY_ERROR : e.reason, e.message) };
    }
    return { clipped: foldable.clipped };
  }

  private readonly orphanNotRemoved = (update: VerifiedUpdate, err: unknown): void => {
    const manifest = update.manifest;
    this.s.logger.warn({ runId: manifest.runId, updateId: manifest.updateId, err: TributaryError.from(err).message }, 'payload of an unrecorded update could not be removed');
  };

  /** Adds a refusal to the record of the round the manifest names (or the current one) and announces it. */
  async noteRefusal(active: ActiveRun, manifest: UpdateManifest__Output, refusal: Refusal__Output): Promise<void> {
    // A refusal naming a round that does not exist shows on the current round.
    const round = active.round?.number === manifest.round ? active.round : ((await this.s.state.getRound(manifest.runId, manifest.round)) ?? active.round);
    const entry = round ? recordRefusal(round.refused, refusal) : refusal;
    if (round) await this.s.state.write([{ kind: 'round', value: round }]);
    emit(this.s, active, 'UPDATE_REFUSED', { refusal: { ...entry }, round: round ?? null });
  }

  /**
   * When the open round closes unless every selected site delivers first: its deadline, or, with
   * wait_after_quorum, that long after the update that reached min_sites if that is sooner.
   * Computed from what is stored, so a restarted coordinator closes it at the same time.
   */
  closesAtMs(active: ActiveRun, round: RoundRecord): number {
    const { minSites, waitAfterQuorumSeconds } = settingsOf(active);
    const quorumAt = round.accepted[minSites - 1]?.acceptedAtMs;
    if (!waitAfterQuorumSeconds || quorumAt === undefined) return round.deadlineAtMs;
    return Math.min(round.deadlineAtMs, quorumAt + waitAfterQuorumSeconds * 1000);
  }

  /** Arms the open round's close: its deadline, or the end of the grace period after quorum. */
  armDeadline(active: ActiveRun): void {
    const round = active.round;
    if (!round) return;
    const fire = async (): Promise<void> => {
      if (active.round !== round || round.state !== 'ROUND_STATE_OPEN') return;
      const later = await this.deadlines?.extendPastDeadline(active, round);
      if (later === undefined) await this.close(active);
      else armTimer(this.s, active, later, fire, 'round close');
    };
    armTimer(this.s, active, this.closesAtMs(active, round), fire, 'round close');
    this.deadlines?.armed(active);
  }

  /** Closes the open round: commits a model version at quorum, otherwise fails the round. */
  async close(active: ActiveRun): Promise<void> {
    disarmTimer(active);
    const round = active.round;
    const aggregator = active.aggregator;
    if (!round || !aggregator || round.state !== 'ROUND_STATE_OPEN') return;
    const settings = settingsOf(active);
    if (round.accepted.length < settings.minSites) {
      await this.fail(active, `${Reason.QUORUM_NOT_MET}: ${round.accepted.length} of ${round.selectedSites.length} selected site(s) delivered, min_sites is ${settings.minSites}`);
      return;
    }
    round.state = 'ROUND_STATE_AGGREGATING';
    emit(this.s, active, 'ROUND_AGGREGATING');
    const started = process.hrtime.bigint();
    let result: AggregateResult;
    try {
      await this.s.delegatedFolds?.collect(round, aggregator, foldPolicyOf(active));
      result = aggregator.finishInSlices !== undefined ? await aggregator.finishInSlices() : await aggregator.finish();
    } catch (err) {
      await this.fail(active, `${Reason.STRATEGY_ERROR}: ${TributaryError.from(err).message}`);
      return;
    } finally {
      await this.disposeAggregator(active);
    }
    try {
      // Finite inputs can still sum past the largest double: such a model is never committed.
      // Checked in steps: a large model's values are not scanned in one turn of the event loop.
      let overflowed: [string, unknown] | undefined;
      for (const entry of Object.entries(result.model)) {
        if (!(await allFiniteAsync(entry[1]))) {
          overflowed = entry;
          break;
        }
      }
      if (overflowed !== undefined) {
        await this.fail(active, `${Reason.NON_FINITE_AGGREGATE}: tensor "${overflowed[0]}" of the aggregate holds NaN or infinity`);
        return;
      }
      await this.commit(active, round, result, started);
    } finally {
      // The engine keeps the tensors only as the next global model of a strategy that reads it.
      if (active.strategy.readsGlobalModel === false) result.release?.();
    }
    this.s.delegatedFolds?.ended(round);
    await this.outcomes.committed(active, round);
  }

  private async commit(active: ActiveRun, round: RoundRecord, result: AggregateResult, started: bigint): Promise<void> {
    const federation = (await this.s.state.getFederation(active.run.federation)) ?? active.federation;
    const at = this.s.now();
    const serverState = result.serverState ?? {};
    const prepared = await prepareModelVersion(
      this.s.blobs,
      federation,
      { tensors: result.model, ...(result.metadata ? { metadata: result.metadata } : {}) },
      { parentVersion: round.baseVersion, runId: active.run.id, round: round.number, contributions: round.accepted, strategy: active.strategy.name, metrics: result.metrics },
      { serverState, atMs: at },
    );
    const version = prepared.record.version;
    // The next round's global model: decoded only for a strategy that reads it.
    const values = active.strategy.readsGlobalModel === false ? await StoredModel.open(this.s.blobs.path(prepared.record.sha256), prepared.record.size) : result.model;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const settings = settingsOf(active);
    const committed: RoundRecord = {
      ...round,
      state: 'ROUND_STATE_COMMITTED',
      closedAtMs: at,
      committedVersion: version,
      metrics: { ...round.metrics, ...result.metrics, aggregation_seconds: seconds, duration_seconds: (at - round.openedAtMs) / 1000 },
      evaluation: settings.evaluateEvery > 0 && round.number % settings.evaluateEvery === 0 ? 'EVALUATION_STATE_PENDING' : 'EVALUATION_STATE_NONE',
    };
    // One atomic, synced batch: model version, round and run progress; memory follows it.
    await this.s.state.write([...prepared.writes, { kind: 'round', value: committed }, { kind: 'run', value: { ...active.run, latestVersion: version } }]);
    Object.assign(round, committed);
    active.run.latestVersion = version;
    active.federation = prepared.federation;
    active.model = { values, sha256: prepared.record.sha256, size: prepared.record.size };
    active.serverState = serverState;
    this.s.metrics.aggregationSeconds.observe(seconds);
    this.s.metrics.rounds.inc({ state: 'committed' });
    this.s.logger.info({ runId: active.run.id, round: round.number, version, sites: round.accepted.length, seconds }, 'round committed');
    emit(this.s, active, 'ROUND_COMMITTED');
  }

  /** Fails the open round; `advance` hands the run its outcome (next round or end). */
  async fail(active: ActiveRun, reason: string, advance = true): Promise<void> {
    disarmTimer(active);
    const round = active.round;
    if (!round) return;
    await this.disposeAggregator(active);
    const failed: RoundRecord = { ...round, state: 'ROUND_STATE_FAILED', failureReason: reason, closedAtMs: this.s.now() };
    await this.s.state.write([{ kind: 'round', value: failed }]);
    Object.assign(round, failed);
    this.s.metrics.rounds.inc({ state: 'failed' });
    this.s.logger.warn({ runId: active.run.id, round: round.number, reason }, 'round failed');
    emit(this.s, active, 'ROUND_FAILED');
    this.s.delegatedFolds?.ended(round);
    if (advance) await this.outcomes.failed(active, round, reason);
  }

  /** A fresh aggregator for the round (opening it, or re-folding it after a restart). */
  aggregatorContext(active: ActiveRun, round: RoundRecord): RoundContext {
    const settings = settingsOf(active);
    return {
      federation: active.run.federation,
      runId: active.run.id,
      round: round.number,
      modelSpec: active.federation.modelSpec,
      options: settings.strategyOptions,
      // Empty for a strategy that never reads it (the model is then kept on disk).
      globalModel: active.model.values instanceof StoredModel ? {} : active.model.values,
      serverState: active.serverState,
      scratchDir: join(this.s.scratchDir, `${active.run.id}-${round.number}`),
      memoryBudgetBytes: this.s.aggregatorMemoryBytes,
    };
  }

  private async disposeAggregator(active: ActiveRun): Promise<void> {
    const aggregator = active.aggregator;
    active.aggregator = undefined;
    if (!aggregator?.dispose) return;
    await aggregator.dispose().catch((err: unknown) => this.s.logger.warn({ err: TributaryError.from(err).message }, 'aggregator cleanup failed'));
  }
}

/** The refusal of an update whose fold from its file failed. */
function slicedFoldRefusal(err: unknown): Refusal {
  const e = TributaryError.from(err);
  return refusalOf(e.reason === Reason.INTERNAL ? Reason.STRATEGY_ERROR : e.reason, e.message);
}
