import { TributaryError } from '@tributary/proto';
import { describeError } from './logging.js';
import type { SiteLogger } from './logging.js';
import { raceAbort } from './signals.js';
import type { EvaluateFn, EvaluationResult } from './evaluation.js';
import type { ParticipationSummary, SiteTask, TrainFn, TrainResult, UpdateVerdict } from './types.js';

export interface ParticipateOptions {
  /** Stops participation: `participate` resolves (train is not awaited further). */
  signal?: AbortSignal;
  /** Resolves after this many tasks. @default unlimited */
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
  tasks(federation: string, opts: { signal?: AbortSignal }): AsyncIterable<SiteTask>;
  submit(task: SiteTask, result: TrainResult, opts: { signal?: AbortSignal }): Promise<UpdateVerdict>;
  submitEvaluation(task: SiteTask, result: EvaluationResult, opts: { signal?: AbortSignal }): Promise<UpdateVerdict>;
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
 * the next task. Resolves when `signal` aborts, the client closes, or `maxTasks` is reached.
 */
export async function participate(
  client: Participant,
  logger: SiteLogger,
  federation: string,
  train: TrainFn,
  opts: ParticipateOptions = {},
): Promise<ParticipationSummary> {
  if (typeof train !== 'function') throw TributaryError.invalidArgument(`participate: train must be a function, got ${typeof train}`);
  const { signal, maxTasks, onVerdict, evaluate } = opts;
  if (evaluate !== undefined && typeof evaluate !== 'function') throw TributaryError.invalidArgument(`participate: evaluate must be a function, got ${typeof evaluate}`);
  if (maxTasks !== undefined && !(Number.isSafeInteger(maxTasks) && maxTasks > 0)) {
    throw TributaryError.invalidArgument(`participate: maxTasks must be a positive integer, got ${String(maxTasks)}`);
  }
  const summary: ParticipationSummary = { tasks: 0, accepted: 0, refused: 0, failed: 0 };
  // A function, so the compiler does not assume the signal keeps the state it had earlier.
  const stopped = (): boolean => signal?.aborted === true;
  if (stopped()) return summary;

  for await (const task of client.tasks(federation, signal === undefined ? {} : { signal })) {
    const where = { federation, runId: task.runId, round: task.round };
    const evaluating = task.kind === 'evaluate' && evaluate !== undefined;
    if (task.kind !== 'train' && !evaluating) {
      logger.warn({ ...where, kind: task.kind }, 'task kind not handled by participate; skipped');
      continue;
    }
    summary.tasks++;
    const outcome = evaluating ? await runTrain(evaluate, task, signal) : await runTrain(train, task, signal);
    if (outcome.status === 'cancelled') break;
    if (outcome.status === 'failed') {
      summary.failed++;
      logger.warn({ ...where, kind: task.kind, err: describeError(outcome.error) }, `${task.kind} failed; waiting for the next task`);
    } else {
      try {
        const opts = signal === undefined ? {} : { signal };
        const verdict = evaluating
          ? await client.submitEvaluation(task, outcome.result as EvaluationResult, opts)
          : await client.submit(task, outcome.result as TrainResult, opts);
        if (verdict.accepted) summary.accepted++;
        else summary.refused++;
        await reportVerdict(onVerdict, verdict, logger);
      } catch (err) {
        if (stopped()) break;
        summary.failed++;
        logger.warn({ ...where, err: describeError(err) }, 'update not delivered; waiting for the next task');
      }
    }
    if (maxTasks !== undefined && summary.tasks >= maxTasks) break;
  }
  return summary;
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

