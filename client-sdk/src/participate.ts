import { TributaryError } from '@tributary/proto';
import { describeError } from './logging.js';
import type { SiteLogger } from './logging.js';
import { raceAbort } from './signals.js';
import type { EvaluateFn, EvaluationResult } from './evaluation.js';
import { ActiveSiteTask } from './site-task.js';
import type { ParticipationSummary, RunEnd, SiteTask, TrainFn, TrainResult, UpdateVerdict } from './types.js';

export interface ParticipateOptions {
  /** Stops participation: `participate` resolves (train is not awaited further). */
  signal?: AbortSignal;
  /**
   * Resolves after handling this many tasks: train tasks, and evaluate tasks when `evaluate` is
   * given, each counted once whether it was accepted, refused or failed. Tasks skipped (an
   * evaluate task without `evaluate`) are not counted. Without it, `participate` runs until a
   * run of the federation ends. @default unlimited
   */
  maxTasks?: number;
  /** Called with each verdict; may be async. Errors are logged, not thrown. */
  onVerdict?: (verdict: UpdateVerdict) => void | Promise<void>;
  /**
   * Federated evaluation: evaluates the global model on local data when the coordinator asks
   * (federations with `evaluate_every`). Without it, evaluation tasks are skipped.
   */
  evaluate?: EvaluateFn;
}

/** What `participate` needs of a client. */
export interface Participant {
  /** The federation's tasks, and the ends of its runs as the coordinator tells them. */
  taskEvents(federation: string, opts: { signal?: AbortSignal }): AsyncIterable<SiteTask | RunEnd>;
  submit(task: SiteTask, result: TrainResult, opts: { signal?: AbortSignal }): Promise<UpdateVerdict>;
  submitEvaluation(task: SiteTask, result: EvaluationResult, opts: { signal?: AbortSignal }): Promise<UpdateVerdict>;
  /** Tells the coordinator that training for the task failed. */
  reportFailure?(task: SiteTask, error: unknown): Promise<unknown>;
}

/** How one call of the user's `train` (or `evaluate`) ended. */
export type TrainOutcome<R = TrainResult> =
  | { readonly status: 'completed'; readonly result: R }
  | { readonly status: 'failed'; readonly error: TributaryError }
  | { readonly status: 'cancelled'; readonly error: TributaryError };

/** Runs `train`, normalising whatever it throws; `cancelled` when `signal` aborted first. */
export async function runTrain<R>(train: (task: SiteTask) => Promise<R>, task: SiteTask, signal: AbortSignal | undefined): Promise<TrainOutcome<R>> {
  const running = Promise.resolve().then(() => train(task));
  try {
    return { status: 'completed', result: await raceAbort(running, signal) };
  } catch (err) {
    const error = TributaryError.from(err);
    return signal?.aborted === true ? { status: 'cancelled', error } : { status: 'failed', error };
  }
}

/**
 * The participation loop: each task is trained with `train`, its update submitted and its
 * verdict reported. A failing `train` or submit is logged and counted, and the site waits for
 * the next task. Resolves, saying how in `end`, when a run of the federation ends, when
 * `maxTasks` is reached, or when `signal` aborts or the client closes. Each task lets go of
 * `signal` once handled, so any number of tasks leaves no listener behind.
 */
export async function participate(
  client: Participant,
  logger: SiteLogger,
  federation: string,
  train: TrainFn,
  opts: ParticipateOptions = {},
): Promise<ParticipationSummary> {
  if (typeof train !== 'function') throw TributaryError.invalidArgument(`participate: train must be a function, got ${typeof train}`);
  const { signal, maxTasks, evaluate } = opts;
  if (evaluate !== undefined && typeof evaluate !== 'function') throw TributaryError.invalidArgument(`participate: evaluate must be a function, got ${typeof evaluate}`);
  if (maxTasks !== undefined && !(Number.isSafeInteger(maxTasks) && maxTasks > 0)) {
    throw TributaryError.invalidArgument(`participate: maxTasks must be a positive integer, got ${String(maxTasks)}`);
  }
  const counts = { tasks: 0, accepted: 0, refused: 0, failed: 0 };
  if (isAborted(signal)) return { ...counts, end: { how: 'stopped' } };

  for await (const item of client.taskEvents(federation, signal === undefined ? {} : { signal })) {
    if (isRunEnd(item)) {
      logger.info({ federation, runId: item.runId, status: item.status, message: item.message }, 'run ended');
      return { ...counts, end: { how: 'run-ended', run: item } };
    }
    const task = item;
    try {
      const handled = await handleTask(client, logger, task, train, opts, counts);
      if (handled === 'stopped') break;
    } finally {
      if (task instanceof ActiveSiteTask) task.release();
    }
    if (maxTasks !== undefined && counts.tasks >= maxTasks) return { ...counts, end: { how: 'max-tasks' } };
  }
  return { ...counts, end: { how: 'stopped' } };
}

function isRunEnd(item: SiteTask | RunEnd): item is RunEnd {
  return 'status' in item;
}

/** Trains (or evaluates) one task and submits the result, counting the outcome. */
async function handleTask(
  client: Participant,
  logger: SiteLogger,
  task: SiteTask,
  train: TrainFn,
  opts: ParticipateOptions,
  counts: Omit<ParticipationSummary, 'end'>,
): Promise<'handled' | 'skipped' | 'stopped'> {
  const { signal, onVerdict, evaluate } = opts;
  const where = { federation: task.federation, runId: task.runId, round: task.round };
  const evaluating = task.kind === 'evaluate' && evaluate !== undefined;
  if (task.kind !== 'train' && !evaluating) {
    logger.warn({ ...where, kind: task.kind }, 'task kind not handled by participate; skipped');
    return 'skipped';
  }
  counts.tasks++;
  const outcome = evaluating ? await runTrain(evaluate, task, signal) : await runTrain(train, task, signal);
  if (outcome.status === 'cancelled') return 'stopped';
  if (outcome.status === 'failed') {
    counts.failed++;
    logger.warn({ ...where, kind: task.kind, err: describeError(outcome.error) }, `${task.kind} failed; waiting for the next task`);
    // The round hears of it at once rather than waiting for the site until its deadline.
    if (client.reportFailure !== undefined) {
      if (task instanceof ActiveSiteTask) task.stopHeartbeats();
      await client.reportFailure(task, outcome.error).catch((err: unknown) => logger.warn({ ...where, err: describeError(err) }, 'failure report not delivered'));
    }
    return 'handled';
  }
  try {
    const submitOpts = signal === undefined ? {} : { signal };
    const verdict = evaluating
      ? await client.submitEvaluation(task, outcome.result as EvaluationResult, submitOpts)
      : await client.submit(task, outcome.result as TrainResult, submitOpts);
    if (verdict.accepted) counts.accepted++;
    else counts.refused++;
    await reportVerdict(onVerdict, verdict, logger);
  } catch (err) {
    // Read through a call, so the compiler does not assume the signal kept its earlier state.
    if (isAborted(signal)) return 'stopped';
    counts.failed++;
    logger.warn({ ...where, err: describeError(err) }, 'update not delivered; waiting for the next task');
  }
  return 'handled';
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

async function reportVerdict(
  onVerdict: ParticipateOptions['onVerdict'],
  verdict: UpdateVerdict,
  logger: SiteLogger,
): Promise<void> {
  if (onVerdict === undefined) return;
  try {
    await onVerdict(verdict);
  } catch (err) {
    logger.warn({ updateId: verdict.updateId, err: describeError(err) }, 'onVerdict threw');
  }
}

