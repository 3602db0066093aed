import { Reason, TributaryError } from '@tributary/proto';
import type { Task__Output, TensorMap } from '@tributary/proto';
import type { TaskHeartbeat } from './heartbeat.js';
import type { TaskMetrics } from './metrics.js';
import { linkSignals } from './signals.js';
import type { LinkedSignal } from './signals.js';
import type { RunEnd, SiteTask } from './types.js';

/** The identity of a task: one per run and round. */
export function taskKey(t: { federation: string; runId: string; round: number; kind: string }): string {
  return `${t.federation}/${t.runId}/${t.round}/${t.kind}`;
}

/** Signal of a task: aborts at its deadline (DEADLINE_PASSED) or when a parent aborts. */
export function taskSignal(
  task: { federation: string; runId: string; round: number; deadlineAtMs: number },
  parents: ReadonlyArray<AbortSignal | undefined>,
): LinkedSignal {
  if (task.deadlineAtMs <= 0) return linkSignals(parents);
  return linkSignals(parents, {
    deadline: {
      atMs: task.deadlineAtMs,
      reason: () =>
        TributaryError.of(
          Reason.DEADLINE_PASSED,
          `deadline of ${task.federation} run ${task.runId} round ${task.round} passed at ${new Date(task.deadlineAtMs).toISOString()}`,
          { code: 'DEADLINE_EXCEEDED', retryable: false },
        ),
    },
  });
}

/**
 * A base class whose instances hold `fields` as their own properties, typed by `T`, so that a
 * class implementing an interface need not declare the interface's fields again.
 */
function withFields<T extends object>(): new (fields: T) => Readonly<T> {
  return class {
    constructor(fields: T) {
      Object.assign(this, fields);
    }
  } as new (fields: T) => Readonly<T>;
}

/** A task handed to user code: the fields of the wire Task, the model, a signal and a metrics log. */
export class ActiveSiteTask extends withFields<Omit<SiteTask, 'log'>>() implements SiteTask {
  readonly #metrics: TaskMetrics;

  readonly #signal: LinkedSignal;

  readonly #heartbeat: TaskHeartbeat | undefined;

  constructor(init: { task: Task__Output; model: TensorMap; signal: LinkedSignal; metrics: TaskMetrics; heartbeat?: TaskHeartbeat }) {
    const t = init.task;
    super({
      federation: t.federation,
      runId: t.runId,
      round: t.round,
      kind: t.kind,
      modelVersion: t.modelVersion,
      config: Object.freeze({ ...t.config }),
      deadlineAtMs: t.deadlineAtMs,
      uploadGraceMs: t.uploadGraceSeconds * 1000,
      modelSpec: t.modelSpec?.tensors ?? [],
      model: init.model,
      signal: init.signal.signal,
    });
    this.#metrics = init.metrics;
    this.#signal = init.signal;
    this.#heartbeat = init.heartbeat;
  }

  /** The update's payload is being uploaded: `bytes` acked so far (heartbeats say so). */
  uploading(bytes: number): void {
    this.#heartbeat?.uploading(bytes);
  }

  /** Stops the task's heartbeats (its training failed, or it is over). */
  stopHeartbeats(): void {
    this.#heartbeat?.stop();
  }

  /**
   * Ends the task's hold on its parents: the listener on the caller's and the client's signals
   * and the deadline timer. Called once the task is handled, so a long-lived signal does not
   * collect one listener per task. Idempotent.
   */
  release(): void {
    this.#heartbeat?.stop();
    this.#signal.dispose();
  }

  /** Arrow property so `const { log } = task` works too. */
  readonly log = (metrics: Record<string, number>, step?: number): void => {
    this.#metrics.log(metrics, step);
  };

  /** Publishes the points logged so far (best effort). */
  flushMetrics(): Promise<void> {
    return this.#metrics.flush();
  }
}

/** Why a wire Task cannot be worked on, or undefined when it is well formed. */
export function taskProblem(t: Task__Output, federation: string): string | undefined {
  if (t.federation !== federation) return `task for federation "${t.federation}" on the "${federation}" stream`;
  if (t.runId === '') return 'task without a run id';
  if (!Number.isSafeInteger(t.round) || t.round <= 0) return `task with round ${t.round}`;
  if (!Number.isSafeInteger(t.modelVersion) || t.modelVersion <= 0) return `task with model version ${t.modelVersion}`;
  // An empty spec is legitimate: heterogeneous federations (ensembles) take models of any shape.
  if (t.modelSpec === null) return 'task without a model spec';
  return undefined;
}

/** The task kind that tells a watching site a run of its federation ended. */
export const RUN_ENDED_KIND = 'run_ended';

const RUN_END_STATUS: Readonly<Record<string, RunEnd['status']>> = {
  RUN_STATUS_FINISHED: 'FINISHED',
  RUN_STATUS_FAILED: 'FAILED',
  RUN_STATUS_KILLED: 'KILLED',
};

/** How a run ended, from its wire status; undefined while it runs. */
export function runEndStatusOf(status: string): RunEnd['status'] | undefined {
  return RUN_END_STATUS[status];
}

/** The run end a task of kind "run_ended" tells, or why it cannot be believed. */
export function runEndOf(t: Task__Output, federation: string): RunEnd | string {
  if (t.federation !== federation) return `run end for federation "${t.federation}" on the "${federation}" stream`;
  if (t.runId === '') return 'run end without a run id';
  const status = runEndStatusOf(t.runStatus);
  if (status === undefined) return `run end with status ${t.runStatus}`;
  return Object.freeze({ federation: t.federation, runId: t.runId, status, message: t.runMessage, round: t.round });
}
