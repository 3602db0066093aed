import { randomBytes, randomInt } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  TributaryError,
  UPDATE_ID_PATTERN,
  decodeSafetensors,
  encodeSafetensors,
  tensor,
  type Refusal__Output,
  type RunEvent__Output,
  type RunStatus__Output,
  type Task__Output,
  type TensorMap,
  type UpdateManifest__Output,
  type UpdateSummary__Output,
} from '@tributary/proto';
import type { Logger } from 'pino';
import type { CoordinatorMetrics } from '../observability/metrics.js';
import type {
  BlobStore,
  FederationRecord,
  ModelVersionRecord,
  RoundRecord,
  RunRecord,
  StateStore,
  StateWrite,
} from '../state/index.js';
import { OPAQUE_PAYLOAD_TENSOR, type AggregateResult, type Aggregator, type RoundContext, type Strategy, type StrategyRegistry } from '../strategies/index.js';
import type { AdmissionContext, UpdateAdmission, Verdict } from './admission.js';
import type { RunEventBus, TaskBus } from './events.js';
import { clipUpdateToNorm } from './norm-clip.js';
import { normaliseSettings } from './settings.js';

export interface RoundEngineOptions {
  state: StateStore;
  blobs: BlobStore;
  strategies: StrategyRegistry;
  logger: Logger;
  metrics: CoordinatorMetrics;
  events: RunEventBus;
  tasks: TaskBus;
  /** Largest accepted update payload. */
  maxUpdateBytes: number;
  /** Directory for aggregators' per-round spill files. */
  scratchDir: string;
  /** Update bytes an aggregator may hold in memory before spilling. @default 1 GiB */
  aggregatorMemoryBytes?: number;
  /** Clock, replaceable in tests. */
  now?: () => number;
  /** Uniform [0, 1) source for site sampling. */
  random?: () => number;
}

/** A run this coordinator is driving, with its open round and that round's aggregator. */
interface ActiveRun {
  run: RunRecord;
  federation: FederationRecord;
  strategy: Strategy;
  globalModel: TensorMap;
  globalSha256: string;
  globalSize: number;
  /** Strategy state carried from the previous committed round of this run. */
  serverState: TensorMap;
  round?: RoundRecord;
  aggregator?: Aggregator;
  /** Federated evaluation of the model the last round committed, while it runs. */
  evaluation?: EvaluationPhase;
  timer?: NodeJS.Timeout;
}

/**
 * Selected sites evaluate the newly committed model on their own data; the example-weighted
 * mean of their metrics is stored with the round as `eval_<key>`. Kept in memory: after a
 * restart the run goes on with the next round.
 */
interface EvaluationPhase {
  round: RoundRecord;
  selected: string[];
  results: UpdateSummary__Output[];
  deadlineAtMs: number;
}

const TERMINAL_RUN: ReadonlySet<RunStatus__Output> = new Set([
  'RUN_STATUS_FINISHED',
  'RUN_STATUS_FAILED',
  'RUN_STATUS_KILLED',
]);

/**
 * Drives runs round by round: selects sites, offers tasks, admits and folds verified updates as
 * they arrive (streaming), closes rounds at quorum of all selected sites or at the deadline, and
 * commits model versions with their lineage. All mutations run one at a time, so a round's
 * record never sees interleaved read-modify-writes.
 */
export class RoundEngine implements UpdateAdmission {
  private readonly active = new Map<string, ActiveRun>();
  private readonly activeByFederation = new Map<string, string>();
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly opts: RoundEngineOptions) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? (() => randomInt(0, 2 ** 47) / 2 ** 47);
  }

  /** Resumes the runs that were RUNNING when the coordinator last stopped. */
  async start(): Promise<void> {
    await this.exclusive(async () => {
      for (const run of await this.opts.state.listRuns()) {
        if (run.status !== 'RUN_STATUS_RUNNING') continue;
        try {
          await this.resume(run);
        } catch (err) {
          const e = TributaryError.from(err);
          this.opts.logger.error({ runId: run.id, err: e.message }, 'run could not be resumed');
          const open = run.currentRound > 0 ? await this.opts.state.getRound(run.id, run.currentRound) : undefined;
          if (open && open.state !== 'ROUND_STATE_COMMITTED' && open.state !== 'ROUND_STATE_FAILED') {
            await this.opts.state.write([{ kind: 'round', value: { ...open, state: 'ROUND_STATE_FAILED', failureReason: `RESUME_FAILED: ${e.message}`, closedAtMs: this.now() } }]);
          }
          await this.endRun(run.id, 'RUN_STATUS_FAILED', `resume failed: ${e.message}`, run);
        }
      }
    });
  }

  /** Stops timers; runs stay RUNNING in the state store and resume at the next start. */
  async stop(): Promise<void> {
    await this.exclusive(async () => {
      this.stopped = true;
      for (const active of this.active.values()) clearTimeout(active.timer);
    });
  }

  // --- runs ---------------------------------------------------------------------------------

  async startRun(federationName: string, rounds?: number): Promise<RunRecord> {
    return this.exclusive(async () => {
      const federation = await this.opts.state.getFederation(federationName);
      if (!federation) throw notFound(`federation "${federationName}" does not exist`);
      const running = this.activeByFederation.get(federationName);
      if (running) {
        throw new TributaryError({
          code: 'FAILED_PRECONDITION',
          reason: 'RUN_ALREADY_RUNNING',
          message: `federation "${federationName}" already has run ${running} in progress; stop it first`,
        });
      }
      const settings = normaliseSettings(federation.settings);
      if (rounds !== undefined && rounds > 0) settings.rounds = rounds;
      const strategy = this.opts.strategies.get(settings.strategy);
      const version = await this.opts.state.getModelVersion(federationName, federation.latestVersion);
      if (!version) throw new TributaryError({ code: 'INTERNAL', reason: 'INTERNAL', message: `model version ${federation.latestVersion} of "${federationName}" is missing` });
      const run: RunRecord = {
        id: randomBytes(8).toString('hex'),
        federation: federationName,
        status: 'RUN_STATUS_RUNNING',
        rounds: settings.rounds,
        currentRound: 0,
        startedAtMs: this.now(),
        endedAtMs: 0,
        failureReason: '',
        startVersion: federation.latestVersion,
        latestVersion: federation.latestVersion,
        settings,
      };
      await this.opts.state.write([{ kind: 'run', value: run }]);
      const active: ActiveRun = {
        run,
        federation,
        strategy,
        globalModel: await this.loadModel(version),
        globalSha256: version.sha256,
        globalSize: version.size,
        serverState: {},
      };
      this.active.set(run.id, active);
      this.activeByFederation.set(federationName, run.id);
      this.opts.logger.info({ runId: run.id, federation: federationName, rounds: run.rounds }, 'run started');
      await this.openNextRound(active);
      return { ...active.run };
    });
  }

  async stopRun(runId: string, reason: string): Promise<RunRecord> {
    return this.exclusive(async () => {
      const run = await this.opts.state.getRun(runId);
      if (!run) throw notFound(`run "${runId}" does not exist`);
      if (TERMINAL_RUN.has(run.status)) return run;
      const active = this.active.get(runId);
      if (active?.round && active.round.state === 'ROUND_STATE_OPEN') {
        await this.failRound(active, `RUN_STOPPED: ${reason || 'stopped by an operator'}`, false);
      }
      return this.endRun(runId, 'RUN_STATUS_KILLED', reason || 'stopped by an operator', run);
    });
  }

  // --- tasks --------------------------------------------------------------------------------

  /** The open round's task for a site, if it is selected and has not delivered yet. */
  openTaskFor(federation: string, site: string): Task__Output | undefined {
    const runId = this.activeByFederation.get(federation);
    const active = runId ? this.active.get(runId) : undefined;
    const evaluation = active?.evaluation;
    if (active && evaluation) {
      if (!evaluation.selected.includes(site) || evaluation.results.some((r) => r.site === site)) return undefined;
      return this.evaluationTaskOf(active, evaluation);
    }
    const round = active?.round;
    if (!active || !round || round.state !== 'ROUND_STATE_OPEN') return undefined;
    if (!round.selectedSites.includes(site)) return undefined;
    if (round.accepted.some((u) => u.site === site)) return undefined;
    return this.taskOf(active, round);
  }

  /** The open round of a run, for snapshots. */
  currentRound(runId: string): RoundRecord | undefined {
    return this.active.get(runId)?.round;
  }

  // --- admission (called by the ingest) ------------------------------------------------------

  async admit(manifest: UpdateManifest__Output): Promise<({ ok: true } & AdmissionContext) | { ok: false; reason: string; message: string }> {
    const run = this.active.get(manifest.runId);
    if (!run) {
      const stored = await this.opts.state.getRun(manifest.runId);
      if (!stored || stored.federation !== manifest.federation) return refusal('RUN_NOT_FOUND', `run "${manifest.runId}" does not exist in federation "${manifest.federation}"`);
      return refusal('RUN_NOT_RUNNING', `run "${manifest.runId}" is ${stored.status.replace('RUN_STATUS_', '')}`);
    }
    if (run.run.federation !== manifest.federation) return refusal('RUN_NOT_FOUND', `run "${manifest.runId}" does not belong to federation "${manifest.federation}"`);
    const evaluating = manifest.taskKind === 'evaluate';
    return (evaluating ? this.checkEvaluation(run, manifest) : this.checkRound(run, manifest)) ?? {
      ok: true,
      modelSpec: run.federation.modelSpec,
      globalModel: run.globalModel,
      normBound: run.run.settings?.normBound ?? 0,
      maxPayloadBytes: this.opts.maxUpdateBytes,
      heterogeneous: run.strategy.heterogeneous ?? false,
      expectsPayload: !evaluating,
      clipToNormBound: run.run.settings?.normBoundMode === 'clip',
    };
  }

  async accept(manifest: UpdateManifest__Output, tensors: TensorMap, info: { bytes: number; stagedPath: string }): Promise<Verdict> {
    return this.exclusive(async () => {
      if (manifest.taskKind === 'evaluate') return this.acceptEvaluation(manifest);
      const active = this.active.get(manifest.runId);
      const late = active ? this.checkRound(active, manifest) : refusal('RUN_NOT_RUNNING', `run "${manifest.runId}" is not running`);
      if (late || !active?.round || !active.aggregator) {
        await rm(info.stagedPath, { force: true });
        return late ?? refusal('ROUND_NOT_OPEN', 'the round is not open');
      }
      const round = active.round;
      const clip = this.clipped(active, tensors);
      if (clip.clipped) {
        round.metrics['clipped_updates'] = (round.metrics['clipped_updates'] ?? 0) + 1;
        this.opts.logger.info({ runId: manifest.runId, site: manifest.site, norm: clip.norm }, 'update clipped to the norm bound');
      }
      try {
        await active.aggregator.fold({
          site: manifest.site,
          updateId: manifest.updateId,
          numExamples: manifest.numExamples,
          metrics: manifest.metrics,
          flavor: manifest.flavor || 'tensors',
          tensors: clip.tensors,
        });
      } catch (err) {
        const e = TributaryError.from(err);
        await rm(info.stagedPath, { force: true });
        return refusal(e.reason === 'INTERNAL' ? 'STRATEGY_ERROR' : e.reason, e.message);
      }
      // Keep the verified payload: lineage points at it, and a restart re-folds the open round from it.
      await this.opts.blobs.putFile(info.stagedPath, manifest.payloadSha256);
      const summary = summaryOf(manifest, this.now());
      round.accepted.push(summary);
      round.bytesReceived += info.bytes;
      await this.opts.state.write([acceptedRecord(manifest, summary), { kind: 'round', value: round }]);
      this.opts.metrics.updatesAccepted.inc();
      this.opts.metrics.bytesReceived.inc(info.bytes);
      this.opts.logger.info({ runId: manifest.runId, round: manifest.round, site: manifest.site, updateId: manifest.updateId }, 'update accepted');
      this.emit(active, 'UPDATE_ACCEPTED', { update: summary });
      if (round.accepted.length >= round.selectedSites.length) await this.closeRound(active);
      return { ok: true };
    });
  }

  async refuse(info: { manifest?: UpdateManifest__Output; subject: string; site?: string; updateId?: string; reason: string; message: string }): Promise<void> {
    try {
      await this.exclusive(async () => {
        const m = info.manifest;
        const site = info.site ?? m?.site ?? '';
        const updateId = m?.updateId ?? info.updateId ?? '';
        const at = this.now();
        this.opts.metrics.updatesRefused.inc({ reason: info.reason });
        const writes: StateWrite[] = [];
        // A replayed id keeps its first verdict; only new, well-formed ids are recorded.
        if (UPDATE_ID_PATTERN.test(updateId) && info.reason !== 'REPLAYED_UPDATE' && !(await this.opts.state.getUpdate(updateId))) {
          writes.push({
            kind: 'update',
            value: {
              updateId,
              federation: m?.federation ?? '',
              runId: m?.runId ?? '',
              round: m?.round ?? 0,
              site,
              state: 'REFUSED',
              reason: info.reason,
              message: info.message,
              atMs: at,
            },
          });
        }
        const refusalRecord: Refusal__Output = { site, updateId, reason: info.reason, message: info.message, atMs: at };
        const active = m ? this.active.get(m.runId) : undefined;
        if (m && active && active.run.federation === m.federation) {
          // A refusal naming a round that does not exist shows on the current round.
          const round = active.round?.number === m.round ? active.round : ((await this.opts.state.getRound(m.runId, m.round)) ?? active.round);
          if (round) {
            round.refused.push(refusalRecord);
            writes.push({ kind: 'round', value: round });
          }
          this.emit(active, 'UPDATE_REFUSED', { refusal: refusalRecord, round: round ?? null });
        }
        if (writes.length > 0) await this.opts.state.write(writes);
      });
    } catch (err) {
      this.opts.logger.error({ err: TributaryError.from(err).message }, 'refusal could not be recorded');
    }
  }

  // --- rounds -------------------------------------------------------------------------------

  private checkEvaluation(active: ActiveRun, manifest: UpdateManifest__Output): { ok: false; reason: string; message: string } | undefined {
    const ev = active.evaluation;
    if (!ev || ev.round.number !== manifest.round) return refusal('ROUND_NOT_OPEN', `no evaluation is open for round ${manifest.round}`);
    if (this.now() > ev.deadlineAtMs) return refusal('DEADLINE_PASSED', `the evaluation of round ${manifest.round} closed at its deadline`);
    if (!ev.selected.includes(manifest.site)) return refusal('SITE_NOT_SELECTED', `site "${manifest.site}" was not selected to evaluate round ${manifest.round}`);
    if (ev.results.some((r) => r.site === manifest.site)) return refusal('ALREADY_DELIVERED', `site "${manifest.site}" already evaluated round ${manifest.round}`);
    return undefined;
  }

  private async acceptEvaluation(manifest: UpdateManifest__Output): Promise<Verdict> {
    const active = this.active.get(manifest.runId);
    if (!active) return refusal('RUN_NOT_RUNNING', `run "${manifest.runId}" is not running`);
    const late = this.checkEvaluation(active, manifest);
    const ev = active.evaluation;
    if (late || !ev) return late ?? refusal('ROUND_NOT_OPEN', 'no evaluation is open');
    const summary = summaryOf(manifest, this.now());
    ev.results.push(summary);
    await this.opts.state.write([acceptedRecord(manifest, summary)]);
    this.opts.logger.info({ runId: manifest.runId, round: manifest.round, site: manifest.site }, 'evaluation received');
    this.emit(active, 'EVALUATION_RECEIVED', { update: summary, round: ev.round });
    if (ev.results.length >= ev.selected.length) await this.finishEvaluation(active);
    return { ok: true };
  }

  /** After a commit: evaluate the new model when due, then go on with the next round. */
  private async afterCommit(active: ActiveRun, round: RoundRecord): Promise<void> {
    const settings = active.run.settings ?? normaliseSettings(active.federation.settings);
    if (this.stopped || settings.evaluateEvery <= 0 || round.number % settings.evaluateEvery !== 0) {
      await this.openNextRound(active);
      return;
    }
    const selected = active.strategy.selectSites(await this.eligibleSites(active.run.federation), settings, this.random);
    const evaluation: EvaluationPhase = { round, selected, results: [], deadlineAtMs: this.now() + settings.roundDeadlineSeconds * 1000 };
    active.evaluation = evaluation;
    this.opts.logger.info({ runId: active.run.id, round: round.number, selected }, 'evaluation opened');
    this.emit(active, 'EVALUATION_OPENED', { round });
    if (selected.length === 0) {
      await this.finishEvaluation(active);
      return;
    }
    clearTimeout(active.timer);
    active.timer = setTimeout(() => {
      void this.exclusive(async () => {
        if (active.evaluation === evaluation && this.active.get(active.run.id) === active) await this.finishEvaluation(active);
      }).catch((err: unknown) => this.opts.logger.error({ err: TributaryError.from(err).message }, 'evaluation close failed'));
    }, Math.max(0, evaluation.deadlineAtMs - this.now()));
    active.timer.unref?.();
    this.opts.tasks.publish(active.run.federation, { task: this.evaluationTaskOf(active, evaluation), selectedSites: selected });
  }

  private async finishEvaluation(active: ActiveRun): Promise<void> {
    clearTimeout(active.timer);
    const ev = active.evaluation;
    if (!ev) return;
    active.evaluation = undefined;
    const round = ev.round;
    const total = ev.results.reduce((sum, r) => sum + r.numExamples, 0);
    const sums = new Map<string, { value: number; weight: number }>();
    for (const r of ev.results) {
      for (const [key, value] of Object.entries(r.metrics)) {
        const acc = sums.get(key) ?? { value: 0, weight: 0 };
        acc.value += value * r.numExamples;
        acc.weight += r.numExamples;
        sums.set(key, acc);
      }
    }
    for (const [key, acc] of sums) if (acc.weight > 0) round.metrics[`eval_${key}`] = acc.value / acc.weight;
    round.metrics['eval_num_sites'] = ev.results.length;
    round.metrics['eval_num_examples'] = total;
    await this.opts.state.write([{ kind: 'round', value: round }]);
    this.opts.logger.info({ runId: active.run.id, round: round.number, sites: ev.results.length }, 'evaluation closed');
    this.emit(active, 'ROUND_EVALUATED', { round });
    await this.openNextRound(active);
  }

  private evaluationTaskOf(active: ActiveRun, ev: EvaluationPhase): Task__Output {
    return {
      federation: ev.round.federation,
      runId: ev.round.runId,
      round: ev.round.number,
      kind: 'evaluate',
      modelVersion: ev.round.committedVersion,
      modelSha256: active.globalSha256,
      modelSize: active.globalSize,
      config: { ...ev.round.config },
      deadlineAtMs: ev.deadlineAtMs,
      modelSpec: { tensors: active.strategy.heterogeneous ? [] : active.federation.modelSpec },
    };
  }

  private checkRound(active: ActiveRun, manifest: UpdateManifest__Output): { ok: false; reason: string; message: string } | undefined {
    const round = active.round;
    if (!round || manifest.round !== round.number) {
      return refusal('WRONG_ROUND', `round ${manifest.round} is not the current round${round ? ` (${round.number})` : ''}`);
    }
    if (round.state !== 'ROUND_STATE_OPEN') return refusal('ROUND_NOT_OPEN', `round ${round.number} is ${round.state.replace('ROUND_STATE_', '')}`);
    if (this.now() > round.deadlineAtMs) return refusal('DEADLINE_PASSED', `round ${round.number} closed at its deadline`);
    if (!round.selectedSites.includes(manifest.site)) return refusal('SITE_NOT_SELECTED', `site "${manifest.site}" was not selected for round ${round.number}`);
    if (round.accepted.some((u) => u.site === manifest.site)) return refusal('ALREADY_DELIVERED', `site "${manifest.site}" already delivered an update for round ${round.number}`);
    if (manifest.baseVersion !== 0 && manifest.baseVersion !== round.baseVersion) {
      return refusal('WRONG_ROUND', `update trained from model version ${manifest.baseVersion}, round ${round.number} hands out version ${round.baseVersion}`);
    }
    return undefined;
  }

  private async openNextRound(active: ActiveRun): Promise<void> {
    if (this.stopped) return;
    const run = active.run;
    if (run.currentRound >= run.rounds) {
      await this.endRun(run.id, 'RUN_STATUS_FINISHED', '', run);
      return;
    }
    const settings = run.settings ?? normaliseSettings(active.federation.settings);
    const number = run.currentRound + 1;
    const eligible = await this.eligibleSites(run.federation);
    const selected = active.strategy.selectSites(eligible, settings, this.random);
    const opened = this.now();
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
    };
    run.currentRound = number;
    active.round = round;
    active.aggregator = active.strategy.createAggregator(this.aggregatorContext(active, ctx));
    await this.opts.state.write([
      { kind: 'run', value: run },
      { kind: 'round', value: round },
    ]);
    this.opts.logger.info({ runId: run.id, round: number, selected }, 'round opened');
    this.emit(active, 'ROUND_OPENED', {});
    if (selected.length < settings.minSites) {
      await this.failRound(active, `QUORUM_NOT_MET: ${eligible.length} eligible site(s), ${selected.length} selected, min_sites is ${settings.minSites}`);
      return;
    }
    this.armTimer(active);
    this.opts.tasks.publish(run.federation, { task: this.taskOf(active, round), selectedSites: selected });
  }

  private armTimer(active: ActiveRun): void {
    clearTimeout(active.timer);
    const round = active.round;
    if (!round) return;
    const delay = Math.max(0, round.deadlineAtMs - this.now());
    active.timer = setTimeout(() => {
      void this.exclusive(async () => {
        if (active.round === round && round.state === 'ROUND_STATE_OPEN' && this.active.get(active.run.id) === active) {
          await this.closeRound(active);
        }
      }).catch((err: unknown) => this.opts.logger.error({ err: TributaryError.from(err).message }, 'round close failed'));
    }, delay);
    active.timer.unref?.();
  }

  /** Closes the open round: commits a model version at quorum, otherwise fails the round. */
  private async closeRound(active: ActiveRun): Promise<void> {
    clearTimeout(active.timer);
    const round = active.round;
    const aggregator = active.aggregator;
    if (!round || !aggregator || round.state !== 'ROUND_STATE_OPEN') return;
    const settings = active.run.settings ?? normaliseSettings(active.federation.settings);
    if (round.accepted.length < settings.minSites) {
      await this.failRound(active, `QUORUM_NOT_MET: ${round.accepted.length} of ${round.selectedSites.length} selected site(s) delivered, min_sites is ${settings.minSites}`);
      return;
    }
    round.state = 'ROUND_STATE_AGGREGATING';
    this.emit(active, 'ROUND_AGGREGATING', {});
    const started = process.hrtime.bigint();
    let result: AggregateResult;
    try {
      result = await aggregator.finish();
    } catch (err) {
      await this.failRound(active, `STRATEGY_ERROR: ${TributaryError.from(err).message}`);
      return;
    } finally {
      await this.disposeAggregator(active);
    }
    const { model, metrics } = result;
    const blob = await this.opts.blobs.put(encodeSafetensors(model, result.metadata));
    const serverState = result.serverState ?? {};
    const stateBlob = Object.keys(serverState).length > 0 ? await this.opts.blobs.put(encodeSafetensors(serverState)) : undefined;
    const federation = (await this.opts.state.getFederation(active.run.federation)) ?? active.federation;
    const version = federation.latestVersion + 1;
    const at = this.now();
    const modelVersion: ModelVersionRecord = {
      federation: federation.name,
      version,
      sha256: blob.sha256,
      size: blob.size,
      parentVersion: round.baseVersion,
      runId: active.run.id,
      round: round.number,
      contributions: round.accepted,
      createdAtMs: at,
      strategy: active.strategy.name,
      metrics,
      strategyStateSha256: stateBlob?.sha256 ?? '',
    };
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    round.state = 'ROUND_STATE_COMMITTED';
    round.closedAtMs = at;
    round.committedVersion = version;
    round.metrics = { ...round.metrics, ...metrics, aggregation_seconds: seconds, duration_seconds: (at - round.openedAtMs) / 1000 };
    active.run.latestVersion = version;
    const updatedFederation: FederationRecord = { ...federation, latestVersion: version };
    await this.opts.state.write([
      { kind: 'modelVersion', value: modelVersion },
      { kind: 'round', value: round },
      { kind: 'federation', value: updatedFederation },
      { kind: 'run', value: active.run },
    ]);
    active.federation = updatedFederation;
    active.globalModel = model;
    active.globalSha256 = blob.sha256;
    active.globalSize = blob.size;
    active.serverState = serverState;
    this.opts.metrics.aggregationSeconds.observe(seconds);
    this.opts.metrics.rounds.inc({ state: 'committed' });
    this.opts.logger.info({ runId: active.run.id, round: round.number, version, sites: round.accepted.length, seconds }, 'round committed');
    this.emit(active, 'ROUND_COMMITTED', {});
    await this.afterCommit(active, round);
  }

  private async failRound(active: ActiveRun, reason: string, advance = true): Promise<void> {
    clearTimeout(active.timer);
    const round = active.round;
    if (!round) return;
    round.state = 'ROUND_STATE_FAILED';
    round.failureReason = reason;
    round.closedAtMs = this.now();
    await this.disposeAggregator(active);
    await this.opts.state.write([{ kind: 'round', value: round }]);
    this.opts.metrics.rounds.inc({ state: 'failed' });
    this.opts.logger.warn({ runId: active.run.id, round: round.number, reason }, 'round failed');
    this.emit(active, 'ROUND_FAILED', {});
    if (!advance) return;
    const policy = active.run.settings?.onRoundFailure ?? 'ROUND_FAILURE_POLICY_FAIL_RUN';
    if (policy === 'ROUND_FAILURE_POLICY_CONTINUE') {
      await this.openNextRound(active);
    } else {
      await this.endRun(active.run.id, 'RUN_STATUS_FAILED', `round ${round.number} failed: ${reason}`, active.run);
    }
  }

  private async endRun(runId: string, status: RunStatus__Output, reason: string, run: RunRecord): Promise<RunRecord> {
    const active = this.active.get(runId);
    const record = active?.run ?? run;
    clearTimeout(active?.timer);
    record.status = status;
    record.endedAtMs = this.now();
    record.failureReason = reason;
    await this.opts.state.write([{ kind: 'run', value: record }]);
    this.opts.logger.info({ runId, status, reason }, 'run ended');
    if (active) {
      this.emit(active, 'RUN_ENDED', {});
      this.active.delete(runId);
      if (this.activeByFederation.get(record.federation) === runId) this.activeByFederation.delete(record.federation);
    } else {
      this.opts.events.publish(runId, event('RUN_ENDED', this.now(), record, null));
    }
    return { ...record };
  }

  private async resume(run: RunRecord): Promise<void> {
    const federation = await this.opts.state.getFederation(run.federation);
    if (!federation) throw notFound(`federation "${run.federation}" is gone`);
    const version = await this.opts.state.getModelVersion(run.federation, run.latestVersion);
    if (!version) throw notFound(`model version ${run.latestVersion} is missing`);
    const settings = run.settings ?? normaliseSettings(federation.settings);
    const active: ActiveRun = {
      run,
      federation,
      strategy: this.opts.strategies.get(settings.strategy),
      globalModel: await this.loadModel(version),
      globalSha256: version.sha256,
      globalSize: version.size,
      // Only a version this run committed carries this run's strategy state.
      serverState: version.runId === run.id && version.strategyStateSha256 ? decodeSafetensors(await this.opts.blobs.read(version.strategyStateSha256)).tensors : {},
    };
    this.active.set(run.id, active);
    this.activeByFederation.set(run.federation, run.id);
    const round = run.currentRound > 0 ? await this.opts.state.getRound(run.id, run.currentRound) : undefined;
    if (!round || round.state === 'ROUND_STATE_COMMITTED' || round.state === 'ROUND_STATE_FAILED') {
      await this.openNextRound(active);
      return;
    }
    // The round was open (or closing) when the coordinator stopped: re-fold what it had accepted.
    round.state = 'ROUND_STATE_OPEN';
    active.round = round;
    const aggregator = active.strategy.createAggregator(
      this.aggregatorContext(active, { federation: run.federation, runId: run.id, round: round.number, modelSpec: federation.modelSpec, options: settings.strategyOptions }),
    );
    active.aggregator = aggregator;
    for (const u of round.accepted) {
      const bytes = await this.opts.blobs.read(u.payloadSha256);
      const opaque = u.flavor !== '' && u.flavor !== 'tensors';
      const tensors = opaque ? { [OPAQUE_PAYLOAD_TENSOR]: tensor('U8', [bytes.byteLength], new Uint8Array(bytes)) } : decodeSafetensors(bytes).tensors;
      // The stored payload is what the site sent: clip it again exactly as when it was accepted.
      const folded = opaque ? tensors : this.clipped(active, tensors).tensors;
      await aggregator.fold({ site: u.site, updateId: u.updateId, numExamples: u.numExamples, metrics: u.metrics, flavor: u.flavor || 'tensors', tensors: folded });
    }
    this.opts.logger.info({ runId: run.id, round: round.number, refolded: round.accepted.length }, 'run resumed');
    if (round.accepted.length >= round.selectedSites.length || this.now() >= round.deadlineAtMs) {
      await this.closeRound(active);
    } else {
      this.armTimer(active);
    }
  }

  // --- helpers ------------------------------------------------------------------------------

  /** Approved member sites of a federation, by name: what a round or an evaluation samples from. */
  private async eligibleSites(federation: string): Promise<string[]> {
    const sites = await this.opts.state.listSites();
    return sites.filter((s) => s.status === 'APPROVED' && s.federations.includes(federation)).map((s) => s.name).sort();
  }

  /** The update as it is folded: scaled back to the norm bound when the run clips. */
  private clipped(active: ActiveRun, tensors: TensorMap): { tensors: TensorMap; clipped: boolean; norm: number } {
    const settings = active.run.settings;
    if (!settings || settings.normBound <= 0 || settings.normBoundMode !== 'clip' || active.strategy.heterogeneous) {
      return { tensors, clipped: false, norm: 0 };
    }
    return clipUpdateToNorm(tensors, active.globalModel, settings.normBound);
  }

  private aggregatorContext(active: ActiveRun, ctx: Omit<RoundContext, 'globalModel' | 'serverState' | 'scratchDir' | 'memoryBudgetBytes'>): RoundContext {
    return {
      ...ctx,
      globalModel: active.globalModel,
      serverState: active.serverState,
      scratchDir: join(this.opts.scratchDir, `${ctx.runId}-${ctx.round}`),
      memoryBudgetBytes: this.opts.aggregatorMemoryBytes ?? 1024 ** 3,
    };
  }

  private async disposeAggregator(active: ActiveRun): Promise<void> {
    const aggregator = active.aggregator;
    active.aggregator = undefined;
    if (!aggregator?.dispose) return;
    await aggregator.dispose().catch((err: unknown) => this.opts.logger.warn({ err: TributaryError.from(err).message }, 'aggregator cleanup failed'));
  }

  private async loadModel(version: ModelVersionRecord): Promise<TensorMap> {
    return decodeSafetensors(await this.opts.blobs.read(version.sha256)).tensors;
  }

  private taskOf(active: ActiveRun, round: RoundRecord): Task__Output {
    return {
      federation: round.federation,
      runId: round.runId,
      round: round.number,
      kind: 'train',
      modelVersion: round.baseVersion,
      modelSha256: active.globalSha256,
      modelSize: active.globalSize,
      config: { ...round.config },
      deadlineAtMs: round.deadlineAtMs,
      modelSpec: { tensors: active.strategy.heterogeneous ? [] : active.federation.modelSpec },
    };
  }

  private emit(active: ActiveRun, type: string, extra: Partial<RunEvent__Output>): void {
    const base = event(type, this.now(), active.run, active.round ?? null);
    this.opts.events.publish(active.run.id, { ...base, ...extra });
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

function event(type: string, atMs: number, run: RunRecord, round: RoundRecord | null): RunEvent__Output {
  return {
    type,
    atMs,
    run: structuredClone(run),
    round: round ? structuredClone(round) : null,
    update: null,
    refusal: null,
  };
}

/** What the round, the model version's lineage and the tracking store keep of an accepted manifest. */
function summaryOf(manifest: UpdateManifest__Output, at: number): UpdateSummary__Output {
  const evaluation = manifest.taskKind === 'evaluate';
  return {
    site: manifest.site,
    updateId: manifest.updateId,
    numExamples: manifest.numExamples,
    payloadSha256: evaluation ? '' : manifest.payloadSha256,
    payloadSize: evaluation ? 0 : manifest.payloadSize,
    metrics: finiteOnly(manifest.metrics),
    acceptedAtMs: at,
    flavor: evaluation ? '' : manifest.flavor || 'tensors',
    datasets: manifest.datasets,
    context: { ...manifest.context },
  };
}

function acceptedRecord(manifest: UpdateManifest__Output, summary: UpdateSummary__Output): StateWrite {
  return {
    kind: 'update',
    value: {
      updateId: manifest.updateId,
      federation: manifest.federation,
      runId: manifest.runId,
      round: manifest.round,
      site: manifest.site,
      state: 'ACCEPTED',
      reason: '',
      message: '',
      atMs: summary.acceptedAtMs,
      summary,
    },
  };
}

function finiteOnly(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v)));
}

function refusal(reason: string, message: string): { ok: false; reason: string; message: string } {
  return { ok: false, reason, message };
}

function notFound(message: string): TributaryError {
  return new TributaryError({ code: 'NOT_FOUND', reason: 'NOT_FOUND', message });
}

