import type { FederationSettings__Output, Refusal__Output, TensorMap, UpdateSummary__Output } from '@tributary/proto';
import type { Logger } from 'pino';
import type { CoordinatorMetrics } from '../observability/metrics.js';
import type { BlobStore, FederationRecord, RoundRecord, RunRecord, StateStore } from '../state/index.js';
import type { Aggregator, Strategy, StrategyRegistry } from '../strategies/index.js';
import type { FoldPolicy } from '../updates/foldable-update.js';
import type { GlobalModelSource } from '../updates/global-model-values.js';
import { PublishedRunEvent, RunEventCopies, type RunEventBus, type RunEventInit, type TaskBus } from './events.js';
import type { DelegatedFolds } from './delegated-folds.js';
import type { EvaluationWindow } from './evaluation-phase.js';
import { normaliseSettings } from './settings.js';

/**
 * Calls `fire` once the clock reaches `atMs` (at once if it already has); answers a function
 * that cancels the call. Deadlines are times on the engine's clock, so they follow it.
 */
export type Scheduler = (atMs: number, fire: () => void) => () => void;

/** `setTimeout` against `now`: fires after `atMs - now()` milliseconds, without keeping the process alive. */
export function timerScheduler(now: () => number): Scheduler {
  return (atMs, fire) => {
    const timer = setTimeout(fire, Math.max(0, atMs - now()));
    timer.unref?.();
    return () => clearTimeout(timer);
  };
}

/** What the round engine's parts share: stores, buses, clock and randomness. */
export interface RoundServices {
  readonly state: StateStore;
  readonly blobs: BlobStore;
  readonly strategies: StrategyRegistry;
  readonly logger: Logger;
  readonly metrics: CoordinatorMetrics;
  readonly events: RunEventBus;
  readonly tasks: TaskBus;
  /** Largest accepted update payload. */
  readonly maxUpdateBytes: number;
  /** Directory for aggregators' per-round spill files. */
  readonly scratchDir: string;
  /** Update bytes an aggregator may hold in memory before spilling. */
  readonly aggregatorMemoryBytes: number;
  readonly now: () => number;
  /** Deadlines on the `now` clock. */
  readonly schedule: Scheduler;
  /** Uniform [0, 1) source for site sampling. */
  readonly random: () => number;
  /** Aggregation workers, when the coordinator has them (fedavg and fedprox rounds). */
  readonly delegatedFolds?: DelegatedFolds;
  /** Runs `fn` after everything queued for the federation (timers use it). */
  readonly serialise: <T>(federation: string, fn: () => Promise<T>) => Promise<T>;
}

/**
 * The global model a run's current round hands out: decoded when the run's strategy reads it,
 * else kept on disk (its blob), so a large model costs no memory while fedavg folds.
 */
export interface GlobalModel {
  values: GlobalModelSource;
  sha256: string;
  size: number;
}

/** A run this coordinator is driving, with its open round (and aggregator) or evaluation. */
export interface ActiveRun {
  run: RunRecord;
  federation: FederationRecord;
  strategy: Strategy;
  model: GlobalModel;
  /** Strategy state carried from the previous committed round of this run. */
  serverState: TensorMap;
  round?: RoundRecord;
  aggregator?: Aggregator;
  /** Federated evaluation of the model the last round committed, while it runs. */
  evaluation?: EvaluationWindow;
  /** Cancels the run's one pending deadline, if armed. */
  cancelTimer?: () => void;
  /** Set once the run has ended: late timers and deliveries see it and do nothing. */
  ended?: boolean;
}

/** The settings the run was started with (older runs stored none: the federation's, defaulted). */
export function settingsOf(active: ActiveRun): FederationSettings__Output {
  return active.run.settings ?? normaliseSettings(active.federation.settings);
}

/** How the active run's open round takes updates. */
export function foldPolicyOf(active: ActiveRun): FoldPolicy {
  const settings = settingsOf(active);
  return {
    modelSpec: active.federation.modelSpec,
    globalModel: active.model.values,
    normBound: settings.normBound,
    normMode: settings.normBoundMode === 'clip' ? 'clip' : 'refuse',
    heterogeneous: active.strategy.heterogeneous ?? false,
  };
}

/** What an event names besides its type: the change it reports, and the round if not the current one. */
export interface RunEventExtra {
  readonly update?: UpdateSummary__Output | null;
  readonly refusal?: Refusal__Output | null;
  /** The round concerned, when not the run's current round. */
  readonly round?: RoundRecord | null;
}

/** Publishes a run event of the run and its current round (or `extra.round`). */
export function emit(services: RoundServices, active: ActiveRun, type: string, extra: RunEventExtra = {}): void {
  const round = extra.round !== undefined ? extra.round : (active.round ?? null);
  services.events.publish(active.run.id, runEvent({ type, atMs: services.now(), update: extra.update ?? null, refusal: extra.refusal ?? null }, active.run, round));
}

/**
 * Publishes one event of `type` for each of `extras`, all sharing the copies of the run and its
 * round as they are now (RunEventCopies): a group of accepted updates costs at most one copy of
 * the round in each form asked for, not one each.
 */
export function emitEach(services: RoundServices, active: ActiveRun, type: string, extras: ReadonlyArray<Omit<RunEventExtra, 'round'>>): void {
  if (extras.length === 0) return;
  const copies = new RunEventCopies(active.run, active.round ?? null);
  const atMs = services.now();
  for (const extra of extras) services.events.publish(active.run.id, new PublishedRunEvent({ type, atMs, update: extra.update ?? null, refusal: extra.refusal ?? null }, copies));
}

/** One event of `run` and `round`, copied only in the forms its listeners ask for. */
export function runEvent(init: RunEventInit, run: RunRecord, round: RoundRecord | null): PublishedRunEvent {
  return new PublishedRunEvent(init, new RunEventCopies(run, round));
}

/** Arms the active run's one timer; `fire` runs in the federation's queue unless the run moved on. */
export function armTimer(services: RoundServices, active: ActiveRun, atMs: number, fire: () => Promise<void>, what: string): void {
  disarmTimer(active);
  active.cancelTimer = services.schedule(atMs, () => {
    void services
      .serialise(active.run.federation, async () => {
        if (!active.ended) await fire();
      })
      .catch((err: unknown) => services.logger.error({ err, runId: active.run.id }, `${what} failed`));
  });
}

/** Cancels the active run's timer, if armed. */
export function disarmTimer(active: ActiveRun): void {
  active.cancelTimer?.();
  active.cancelTimer = undefined;
}
