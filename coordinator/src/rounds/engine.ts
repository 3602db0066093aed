import { randomInt } from 'node:crypto';
import { Reason, TributaryError, refusalOf, type ReasonCode, type Refusal, type Refusal__Output, type Task__Output, type UpdateManifest__Output } from '@tributary/proto';
import type { Logger } from 'pino';
import { collectGarbage, type GarbageCollected } from '../models/blob-retention.js';
import type { CoordinatorMetrics } from '../observability/metrics.js';
import type { BlobStore, FederationRecord, RoundRecord, RunRecord, StateStore } from '../state/index.js';
import type { StrategyRegistry } from '../strategies/index.js';
import type { VerifiedUpdate } from '../updates/verified-update.js';
import { disarmTimer, foldPolicyOf, settingsOf, timerScheduler, type ActiveRun, type RoundServices, type Scheduler } from './active-run.js';
import type { Admission, UpdateAdmission } from './admission.js';
import type { DelegatedFolds } from './delegated-folds.js';
import { EvaluationPhase } from './evaluation-phase.js';
import type { RunEventBus, TaskBus } from './events.js';
import { Recovery } from './recovery.js';
import { RoundLifecycle } from './round-lifecycle.js';
import { SETTINGS_DEFAULTS } from './settings.js';
import { ActiveRuns, RunLifecycle } from './run-lifecycle.js';
import { GroupCommit, SerialQueues } from './serial-queues.js';
import { trainingTask } from './tasks.js';
import { RunTimeout } from './run-timeout.js';
import { SiteReports } from './site-reports.js';
import { SiteWatch } from './site-watch.js';

/** Most verified updates judged and written together; the ingest's concurrency bounds it first. */
const MAX_ACCEPT_GROUP = 256;

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
  /** Update bytes an aggregator may hold in memory before spilling. */
  aggregatorMemoryBytes: number;
  /** Aggregation workers, when configured: updates they folded are combined from their partials at close. */
  delegatedFolds?: DelegatedFolds;
  /** Clock, replaceable in tests. @default Date.now */
  now?: () => number;
  /** Calls at a time on the `now` clock, replaceable in tests with `now`. @default setTimeout against `now` */
  schedule?: Scheduler;
  /** Uniform [0, 1) source for site sampling, replaceable in tests. @default crypto-random */
  random?: () => number;
}

/**
 * Drives runs round by round. A front over the run lifecycle, the round lifecycle, the
 * evaluation phase and recovery: it routes each call into its federation's queue, so one
 * federation's mutations never interleave, and a slow fold in one federation does not hold up
 * another's.
 */

/** A change `RoundEngine.whileNoRun` makes while the federation has no running run. */
export interface WhileNoRunOptions<T> {
  readonly federation: string;
  /** Words the refusal from the running run's id. */
  readonly refusal: (runId: string) => string;
  readonly change: () => Promise<T>;
  /** Stops a running run first, for this reason, instead of refusing. */
  readonly stop?: { readonly reason: string };
}
export class RoundEngine implements UpdateAdmission {
  private readonly active = new ActiveRuns({
    removed: (active) => {
      this.watch.ended(active);
      this.runTimeout.ended(active);
    },
  });
  private readonly queues = new SerialQueues();
  /** Verified updates waiting for their federation's queue, judged and written together. */
  private readonly accepts = new GroupCommit<VerifiedUpdate, Refusal | undefined>(this.queues, (federation, updates) => this.acceptGroup(federation, updates), MAX_ACCEPT_GROUP);
  private readonly services: RoundServices;
  private readonly rounds: RoundLifecycle;
  private readonly evaluation: EvaluationPhase;
  private readonly runs: RunLifecycle;
  private readonly recovery: Recovery;
  private readonly watch: SiteWatch;
  private readonly runTimeout: RunTimeout;
  /** Sites' failure reports and heartbeats (SiteService). */
  readonly sites: SiteReports;
  private stopping = false;

  constructor(opts: RoundEngineOptions) {
    const now = opts.now ?? Date.now;
    this.services = {
      ...opts,
      now,
      schedule: opts.schedule ?? timerScheduler(now),
      random: opts.random ?? (() => randomInt(0, 2 ** 47) / 2 ** 47),
      serialise: (federation, fn) => this.queues.run(federation, fn),
    };
    this.rounds = new RoundLifecycle(
      this.services,
      {
        committed: (active, round) => this.runs.committed(active, round),
        failed: (active, round, reason) => this.runs.failed(active, round, reason),
      },
      {
        armed: (active) => {
          this.watch.armed(active);
          this.runTimeout.arm(active);
        },
        extendPastDeadline: (active, round) => this.watch.extendPastDeadline(active, round),
        graced: (active, round, site) => this.watch.graced(active, round, site),
      },
    );
    this.evaluation = new EvaluationPhase(this.services, (active) => this.runs.advance(active));
    this.runs = new RunLifecycle(this.services, this.active, this.rounds, this.evaluation, () => this.stopping);
    this.recovery = new Recovery(this.services, this.active, this.runs, this.rounds);
    this.watch = new SiteWatch(this.services, this.rounds);
    this.runTimeout = new RunTimeout(this.services, this.runs, this.rounds);
    this.sites = new SiteReports(this.services, this.active, this.queues, this.watch, this.evaluation);
  }

  /** Resumes the runs that were RUNNING when the coordinator last stopped. */
  async start(): Promise<void> {
    const running = (await this.services.state.listRuns()).filter((run) => run.status === 'RUN_STATUS_RUNNING');
    await Promise.all(running.map((run) => this.queues.run(run.federation, () => this.recovery.resume(run))));
  }

  /** Stops timers once queued work is done; runs stay RUNNING in the state store and resume at the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.queues.idle();
    for (const active of this.active.all()) disarmTimer(active);
    this.watch.stop();
    this.runTimeout.stop();
  }

  /** Starts a run; a `requestId` already used in this federation answers the run it started. */
  startRun(federation: string, rounds?: number, requestId?: string): Promise<RunRecord> {
    return this.queues.run(federation, () => this.runs.start(federation, rounds, requestId));
  }

  async stopRun(runId: string, reason: string): Promise<RunRecord> {
    const run = await this.services.state.getRun(runId);
    if (!run) return this.runs.stop(runId, reason);
    return this.queues.run(run.federation, () => this.runs.stop(runId, reason));
  }

  /** The open round's (or evaluation's) task for a site, if it is selected and has not delivered yet. */
  openTaskFor(federation: string, site: string): Task__Output | undefined {
    const active = this.active.ofFederation(federation);
    if (!active) return undefined;
    if (active.evaluation) return this.evaluation.taskFor(active, site);
    const round = active.round;
    if (!round || round.state !== 'ROUND_STATE_OPEN' || !round.selectedSites.includes(site)) return undefined;
    if (round.accepted.some((u) => u.site === site)) return undefined;
    // A site that failed in the round is out of it.
    if (round.siteFailures?.some((f) => f.site === site)) return undefined;
    return trainingTask(active, round);
  }

  /**
   * Applies the federation's blob retention policy, inside its queue: no update of it is being
   * committed meanwhile.
   */
  async collectGarbage(federation: string): Promise<GarbageCollected> {
    const record = await this.services.state.getFederation(federation);
    if (!record) throw TributaryError.notFound(`federation "${federation}" does not exist`);
    return this.queues.run(federation, () => this.applyRetention(record));
  }

  /**
   * Runs `change` in the federation's queue, so no run starts or advances meanwhile, once the
   * federation has no running run: a running run refuses it (FAILED_PRECONDITION), unless `stop`
   * says why to stop it first, as StopRun does. `refusal` words the refusal from the running
   * run's id. Answers what `change` did and the run stopped.
   */
  whileNoRun<T>(opts: WhileNoRunOptions<T>): Promise<{ result: T; stopped?: RunRecord }> {
    const { federation, refusal, change, stop } = opts;
    return this.queues.run(federation, async () => {
      const running = this.active.ofFederation(federation);
      let stopped: RunRecord | undefined;
      if (running) {
        if (stop === undefined) {
          throw TributaryError.of(Reason.RUN_ALREADY_RUNNING, refusal(running.run.id));
        }
        stopped = await this.runs.stop(running.run.id, stop.reason);
      }
      const result = await change();
      return stopped === undefined ? { result } : { result, stopped };
    });
  }

  /** Applies a (deleted) federation's blob retention; only inside `whileNoRun`, which holds its queue. */
  applyRetention(record: FederationRecord): Promise<GarbageCollected> {
    return collectGarbage(this.services.state, this.services.blobs, record, (f) => f.settings.keepVersions || SETTINGS_DEFAULTS.keepVersions);
  }

  /** The open round of a run, for snapshots. */
  currentRound(runId: string): RoundRecord | undefined {
    return this.active.get(runId)?.round;
  }

  // --- the update path (called by the ingest) -------------------------------------------------

  async admit(manifest: UpdateManifest__Output): Promise<Admission> {
    const active = this.active.get(manifest.runId);
    if (!active) {
      const stored = await this.services.state.getRun(manifest.runId);
      if (!stored || stored.federation !== manifest.federation) {
        return refused(Reason.RUN_NOT_FOUND, `run "${manifest.runId}" does not exist in federation "${manifest.federation}"`);
      }
      return refused(Reason.RUN_NOT_RUNNING, `run "${manifest.runId}" is ${stored.status.replace('RUN_STATUS_', '')}`);
    }
    if (active.run.federation !== manifest.federation) return refused(Reason.RUN_NOT_FOUND, `run "${manifest.runId}" does not belong to federation "${manifest.federation}"`);
    const maxExamples = settingsOf(active).maxExamples || SETTINGS_DEFAULTS.maxExamples;
    if (manifest.numExamples > maxExamples) {
      return refused(Reason.TOO_MANY_EXAMPLES, `num_examples ${manifest.numExamples} exceeds the federation's max_examples ${maxExamples}`);
    }
    const evaluating = manifest.taskKind === 'evaluate';
    const problem = evaluating ? this.evaluation.admissionProblem(active, manifest) : this.rounds.admissionProblem(active, manifest);
    if (problem) return { ok: false, refusal: problem };
    // A manifest arriving is a sign of life, whatever its payload's fate.
    if (!evaluating) this.watch.touched(active, manifest.site);
    return { ok: true, context: { ...foldPolicyOf(active), maxPayloadBytes: this.services.maxUpdateBytes, expectsPayload: !evaluating, strategy: active.strategy.name, baseVersion: active.round?.baseVersion ?? active.run.latestVersion } };
  }

  progress(manifest: UpdateManifest__Output): void {
    const active = this.active.get(manifest.runId);
    if (active && active.run.federation === manifest.federation && manifest.taskKind !== 'evaluate') this.watch.touched(active, manifest.site);
  }

  /**
   * Judges a verified update in its federation's queue. Updates verified while the queue is busy
   * are judged together (group commit): one synced write records all of them.
   */
  async deliver(update: VerifiedUpdate): Promise<Refusal | undefined> {
    try {
      return await this.accepts.submit(update.manifest.federation, update);
    } finally {
      // Accepted payloads were committed; anything else is dropped.
      await update.discard();
    }
  }

  /** One group of a federation's verified updates, in arrival order; runs inside its queue. */
  private async acceptGroup(federation: string, updates: VerifiedUpdate[]): Promise<Array<PromiseSettledResult<Refusal | undefined>>> {
    const outcomes: Array<PromiseSettledResult<Refusal | undefined>> = updates.map(() => ({ status: 'fulfilled', value: undefined }));
    const training = new Map<ActiveRun, number[]>();
    for (const [i, update] of updates.entries()) {
      const manifest = update.manifest;
      const active = this.active.get(manifest.runId);
      const refusal = !active || active.run.federation !== federation ? refusalOf(Reason.RUN_NOT_RUNNING, `run "${manifest.runId}" is not running`) : await this.revoked(manifest.site);
      if (refusal || !active) outcomes[i] = { status: 'fulfilled', value: refusal };
      else if (update.isEvaluation) outcomes[i] = await settle(() => this.evaluation.accept(active, update));
      else training.set(active, [...(training.get(active) ?? []), i]);
    }
    for (const [active, indices] of training) {
      const settled = await this.rounds.foldGroup(active, indices.map((i) => updates[i] as VerifiedUpdate));
      indices.forEach((i, k) => (outcomes[i] = settled[k] as PromiseSettledResult<Refusal | undefined>));
    }
    return outcomes;
  }

  /** Checked again at fold time: a site revoked while its update was in flight folds nothing. */
  private async revoked(site: string): Promise<Refusal | undefined> {
    const record = await this.services.state.getSite(site);
    return record?.status === 'REVOKED' ? refusalOf(Reason.KEY_REVOKED, `the key of site "${site}" is revoked`) : undefined;
  }

  async noteRefusal(manifest: UpdateManifest__Output, refusal: Refusal): Promise<void> {
    const record: Refusal__Output = { site: manifest.site, updateId: manifest.updateId, reason: refusal.reason, message: refusal.message, atMs: this.services.now(), count: 1 };
    try {
      await this.queues.run(manifest.federation, async () => {
        const active = this.active.get(manifest.runId);
        if (active && active.run.federation === manifest.federation) await this.rounds.noteRefusal(active, manifest, record);
      });
    } catch (err) {
      this.services.logger.error({ err: TributaryError.from(err).message }, 'refusal could not be added to its round');
    }
  }
}

async function settle<T>(fn: () => Promise<T>): Promise<PromiseSettledResult<T>> {
  try {
    return { status: 'fulfilled', value: await fn() };
  } catch (reason) {
    return { status: 'rejected', reason };
  }
}

function refused(reason: ReasonCode, message: string): Admission {
  return { ok: false, refusal: refusalOf(reason, message) };
}
