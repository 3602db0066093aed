import type { HeartbeatRequest, HeartbeatResponse__Output, ReportTaskFailureRequest, ReportTaskFailureResponse__Output, SiteFailure__Output } from '@tributary/proto';
import { MAX_SITE_FAILURE_MESSAGE_CHARS, TributaryError } from '@tributary/proto';
import { describeError } from './logging.js';
import type { SiteSession } from './session.js';

/** How long one report or heartbeat call may take. */
const CALL_TIMEOUT_MS = 10_000;

/** The round a heartbeat or report is about. */
export interface TaskRef {
  readonly federation: string;
  readonly runId: string;
  readonly round: number;
}

/** The task `TaskHeartbeat.start` beats for, and when it stops. */
export interface TaskHeartbeatOptions {
  readonly session: SiteSession;
  readonly task: TaskRef;
  /** The round's heartbeat interval; 0 asks for none. */
  readonly intervalSeconds: number;
  /** Heartbeats stop when any of these aborts. @default [] */
  readonly stopWith?: ReadonlyArray<AbortSignal | undefined>;
}

/**
 * Heartbeats for one task while it is trained and its update uploaded: one at once, then one
 * every interval, saying the phase and the upload bytes acked so far. Stops when told to, or
 * when the coordinator answers that the round no longer needs the site. Failures are logged,
 * never thrown: a missed heartbeat costs nothing unless the site stays silent.
 */
export class TaskHeartbeat {
  readonly #session: SiteSession;
  readonly #task: TaskRef;
  readonly #timer: NodeJS.Timeout;
  #phase: 'train' | 'upload' = 'train';
  #uploadBytes = 0;
  #inFlight = false;
  #stopped = false;
  readonly #stopWith: ReadonlyArray<AbortSignal | undefined>;
  readonly #onAbort = (): void => this.stop();

  private constructor(session: SiteSession, task: TaskRef, intervalMs: number, stopWith: ReadonlyArray<AbortSignal | undefined>) {
    this.#session = session;
    this.#task = task;
    this.#stopWith = stopWith;
    this.#timer = setInterval(() => this.#beat(), intervalMs);
    this.#timer.unref();
    for (const signal of stopWith) signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (stopWith.some((signal) => signal?.aborted === true)) this.stop();
    else this.#beat();
  }

  /**
   * Starts heartbeats for a task whose round asks for them (interval above 0), unless the site
   * turned them off; they stop when any of `stopWith` aborts (the client closing, the caller).
   */
  static start(opts: TaskHeartbeatOptions): TaskHeartbeat | undefined {
    const { session, task, intervalSeconds, stopWith = [] } = opts;
    if (!session.options.heartbeats || !(intervalSeconds > 0)) return undefined;
    return new TaskHeartbeat(session, task, intervalSeconds * 1000, stopWith);
  }

  /** The update is being uploaded: `bytes` acked so far. */
  uploading(bytes: number): void {
    const starting = this.#phase !== 'upload';
    this.#phase = 'upload';
    this.#uploadBytes = bytes;
    // The coordinator hears at once that the upload began: a deadline may be near.
    if (starting) this.#beat();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const signal of this.#stopWith) signal?.removeEventListener('abort', this.#onAbort);
  }

  #beat(): void {
    if (this.#stopped || this.#inFlight) return;
    this.#inFlight = true;
    const { rpc, logger } = this.#session;
    const request: HeartbeatRequest = { ...this.#task, phase: this.#phase, uploadBytes: this.#uploadBytes };
    rpc
      .unary<HeartbeatRequest, HeartbeatResponse__Output>('Heartbeat', request, { timeoutMs: CALL_TIMEOUT_MS })
      .then(
        (answer) => {
          if (!answer.continue) {
            logger.debug({ ...this.#task }, 'the round no longer needs this site; heartbeats stop');
            this.stop();
          }
        },
        (err: unknown) => logger.debug({ ...this.#task, err: describeError(err) }, 'heartbeat not delivered'),
      )
      .finally(() => {
        this.#inFlight = false;
      });
  }
}

/**
 * Tells the coordinator that the site's training (or evaluation) for a round failed, with
 * `error`'s message (cut to 512 characters): a training failure is recorded on the round as
 * SITE_ERROR. Resolves with the record.
 */
export async function reportTaskFailure(session: SiteSession, task: TaskRef & { readonly kind?: string }, error: unknown): Promise<SiteFailure__Output> {
  const message = describeError(error).slice(0, MAX_SITE_FAILURE_MESSAGE_CHARS);
  const taskKind = task.kind === 'evaluate' ? 'evaluate' : 'train';
  const request: ReportTaskFailureRequest = { federation: task.federation, runId: task.runId, round: task.round, message, taskKind };
  const answer = await session.rpc.unary<ReportTaskFailureRequest, ReportTaskFailureResponse__Output>('ReportTaskFailure', request, { timeoutMs: CALL_TIMEOUT_MS });
  if (!answer.failure) throw TributaryError.internal('the coordinator answered a failure report without its record');
  return answer.failure;
}
