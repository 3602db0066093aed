import { randomBytes } from 'node:crypto';
import { Reason, TributaryError, decodeSafetensorsAsync, type RunStatus__Output } from '@tributary/proto';
import type { FederationRecord, ModelVersionRecord, RoundRecord, RunRecord } from '../state/index.js';
import { disarmTimer, emit, runEvent, settingsOf, type ActiveRun, type GlobalModel, type RoundServices } from './active-run.js';
import type { EvaluationPhase } from './evaluation-phase.js';
import type { RoundLifecycle } from './round-lifecycle.js';
import { normaliseSettings } from './settings.js';
import { membersOf } from '../sites/membership.js';
import type { Strategy } from '../strategies/index.js';
import { StoredModel } from '../updates/global-model-values.js';

export const TERMINAL_RUN: ReadonlySet<RunStatus__Output> = new Set(['RUN_STATUS_FINISHED', 'RUN_STATUS_FAILED', 'RUN_STATUS_KILLED']);

/** The runs this coordinator drives, by run id and by federation (one running run each). */
export class ActiveRuns {
  private readonly byId = new Map<string, ActiveRun>();
  private readonly byFederation = new Map<string, ActiveRun>();

  /** `removed` hears of each run that ended, so what watches runs forgets it then. */
  constructor(private readonly opts: { readonly removed?: (active: ActiveRun) => void } = {}) {}

  get(runId: string): ActiveRun | undefined {
    return this.byId.get(runId);
  }

  ofFederation(federation: string): ActiveRun | undefined {
    return this.byFederation.get(federation);
  }

  add(active: ActiveRun): void {
    this.byId.set(active.run.id, active);
    this.byFederation.set(active.run.federation, active);
  }

  remove(active: ActiveRun): void {
    active.ended = true;
    disarmTimer(active);
    this.byId.delete(active.run.id);
    if (this.byFederation.get(active.run.federation) === active) this.byFederation.delete(active.run.federation);
    this.opts.removed?.(active);
  }

  all(): ActiveRun[] {
    return [...this.byId.values()];
  }
}

/**
 * A run from start to end: RUNNING while it advances round by round (with an evaluation after a
 * commit when due), then FINISHED, FAILED or KILLED. Every method runs inside the federation's queue.
 */
export class RunLifecycle {
  constructor(
    private readonly s: RoundServices,
    private readonly active: ActiveRuns,
    private readonly rounds: RoundLifecycle,
    private readonly evaluation: EvaluationPhase,
    private readonly isStopping: () => boolean,
  ) {}

  /**
   * Starts a run; with a `requestId` the run started by an earlier call with the same id (a
   * retry after a lost answer or a coordinator crash) is answered instead, whatever its state.
   */
  async start(federationName: string, rounds?: number, requestId = ''): Promise<RunRecord> {
    const federation = await this.s.state.getFederation(federationName);
    if (!federation) throw TributaryError.notFound(`federation "${federationName}" does not exist`);
    if (requestId !== '') {
      const earlier = (await this.s.state.listRuns(federationName)).find((r) => r.requestId === requestId);
      if (earlier) return { ...(this.active.get(earlier.id)?.run ?? earlier) };
    }
    const running = this.active.ofFederation(federationName);
    if (running) {
      throw TributaryError.of(Reason.RUN_ALREADY_RUNNING, `federation "${federationName}" already has run ${running.run.id} in progress; stop it first`);
    }
    const settings = normaliseSettings(federation.settings);
    if (rounds !== undefined && rounds > 0) settings.rounds = rounds;
    // Checked before anything is written: a run that could never reach its quorum leaves no record.
    const eligible = await membersOf(this.s.state, federationName, { approvedOnly: true });
    if (eligible.length < settings.minSites) {
      throw TributaryError.of(
        Reason.QUORUM_NOT_MET,
        `federation "${federationName}" has ${eligible.length} eligible site(s) (approved, not revoked members); min_sites is ${settings.minSites}, so no run was started`,
      );
    }
    const strategy = this.s.strategies.get(settings.strategy);
    const version = await this.s.state.getModelVersion(federationName, federation.latestVersion);
    if (!version) throw TributaryError.internal(`model version ${federation.latestVersion} of "${federationName}" is missing`);
    const run: RunRecord = {
      id: randomBytes(8).toString('hex'),
      federation: federationName,
      status: 'RUN_STATUS_RUNNING',
      rounds: settings.rounds,
      currentRound: 0,
      startedAtMs: this.s.now(),
      endedAtMs: 0,
      failureReason: '',
      startVersion: federation.latestVersion,
      latestVersion: federation.latestVersion,
      settings,
      requestId,
    };
    await this.s.state.write([{ kind: 'run', value: run }]);
    const active: ActiveRun = { run, federation, strategy, model: await this.loadModel(version, strategy), serverState: {} };
    this.active.add(active);
    this.s.logger.info({ runId: run.id, federation: federationName, rounds: run.rounds }, 'run started');
    await this.advance(active);
    return { ...active.run };
  }

  async stop(runId: string, reason: string): Promise<RunRecord> {
    const run = await this.s.state.getRun(runId);
    if (!run) throw TributaryError.notFound(`run "${runId}" does not exist`);
    if (TERMINAL_RUN.has(run.status)) return run;
    const active = this.active.get(runId);
    if (active?.round && active.round.state === 'ROUND_STATE_OPEN') {
      await this.rounds.fail(active, `${Reason.RUN_STOPPED}: ${reason || 'stopped by an operator'}`, false);
    }
    return this.end(run, 'RUN_STATUS_KILLED', reason || 'stopped by an operator');
  }

  /** Opens the next round, or ends the run FINISHED after its last one. */
  async advance(active: ActiveRun): Promise<void> {
    if (this.isStopping() || active.ended) return;
    if (active.run.currentRound >= active.run.rounds) {
      await this.end(active.run, 'RUN_STATUS_FINISHED', '');
      return;
    }
    await this.rounds.open(active);
  }

  /** After a commit: evaluate the new model when due, then go on with the next round. */
  async committed(active: ActiveRun, round: RoundRecord): Promise<void> {
    if (!this.isStopping() && round.evaluation === 'EVALUATION_STATE_PENDING') {
      await this.evaluation.open(active, round);
      return;
    }
    await this.advance(active);
  }

  /** After a failed round: the run's policy decides between the next round and failing the run. */
  async failed(active: ActiveRun, round: RoundRecord, reason: string): Promise<void> {
    if (settingsOf(active).onRoundFailure === 'ROUND_FAILURE_POLICY_CONTINUE') {
      await this.advance(active);
    } else {
      await this.end(active.run, 'RUN_STATUS_FAILED', `round ${round.number} failed: ${reason}`);
    }
  }

  /** Ends a run with `status`; an evaluation still pending is marked SKIPPED. */
  async end(run: RunRecord, status: RunStatus__Output, reason: string): Promise<RunRecord> {
    const active = this.active.get(run.id);
    const record = active?.run ?? run;
    const ended: RunRecord = { ...record, status, endedAtMs: this.s.now(), failureReason: reason };
    const pending = active?.evaluation?.round;
    const skipped = pending ? { ...pending, evaluation: 'EVALUATION_STATE_SKIPPED' as const } : undefined;
    // Memory follows the synced write, never leads it.
    await this.s.state.write([{ kind: 'run', value: ended }, ...(skipped ? [{ kind: 'round' as const, value: skipped }] : [])]);
    Object.assign(record, ended);
    if (active) active.evaluation = undefined;
    if (pending && skipped) Object.assign(pending, skipped);
    this.s.logger.info({ runId: run.id, status, reason }, 'run ended');
    if (active) {
      emit(this.s, active, 'RUN_ENDED');
      this.active.remove(active);
    } else {
      this.s.events.publish(run.id, runEvent({ type: 'RUN_ENDED', atMs: this.s.now() }, record, null));
    }
    return { ...record };
  }

  /** The global model a run starts or resumes from, for its strategy: decoded if it reads it, else kept on disk. */
  async loadModel(version: ModelVersionRecord, strategy: Strategy): Promise<GlobalModel> {
    const { sha256, size } = version;
    if (strategy.readsGlobalModel === false) return { values: await StoredModel.open(this.s.blobs.path(sha256), size), sha256, size };
    // Decoded in steps (an initial model's header may be 16 MiB), as views of the blob's bytes,
    // which nobody else holds: a large model is not copied again.
    return { values: (await decodeSafetensorsAsync(await this.s.blobs.read(sha256), { view: true })).tensors, sha256, size };
  }

  /** The federation a run belongs to, or NOT_FOUND. */
  async federationOf(run: RunRecord): Promise<FederationRecord> {
    const federation = await this.s.state.getFederation(run.federation);
    if (!federation) throw TributaryError.notFound(`federation "${run.federation}" is gone`);
    return federation;
  }
}
