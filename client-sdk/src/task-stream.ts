import { TaskHeartbeat } from './heartbeat.js';
import { assertName, Backoff, decodeSafetensors, sleep, checkSpec, downloadModel, tensorSpecsOf, TributaryError, Reason } from '@tributary/proto';
import type { Task__Output, TensorMap, WatchTasksRequest } from '@tributary/proto';
import { describeError, logDownloadRetry } from './logging.js';
import type { MetricsPublisher } from './metrics.js';
import type { SiteSession } from './session.js';
import { linkSignals } from './signals.js';
import { ActiveSiteTask, RUN_ENDED_KIND, runEndOf, taskKey, taskProblem, taskSignal } from './site-task.js';
import type { RunEnd } from './types.js';

/** Run/round keys remembered to skip tasks already handed out; oldest forgotten first. */
const LEDGER_CAPACITY = 4_096;

/** Runs remembered per federation as joined and not yet seen to end; as many as WatchTasks takes. */
const JOINED_RUNS_CAPACITY = 16;

/**
 * The tasks already handed to user code, so a task re-sent after a reconnect is skipped, and the
 * runs they belong to until their end is heard, so a site away when a run ended is told on
 * its return (WatchTasksRequest.joined_runs).
 */
export class TaskLedger {
  readonly #keys = new Set<string>();
  readonly #joined = new Map<string, string[]>();

  /** Runs of `federation` this client took part in whose end it has not heard, oldest first. */
  joinedRuns(federation: string): string[] {
    return [...(this.#joined.get(federation) ?? [])];
  }

  hasJoined(federation: string, runId: string): boolean {
    return this.#joined.get(federation)?.includes(runId) === true;
  }

  join(federation: string, runId: string): void {
    const runs = this.#joined.get(federation) ?? [];
    if (runs.includes(runId)) return;
    runs.push(runId);
    if (runs.length > JOINED_RUNS_CAPACITY) runs.shift();
    this.#joined.set(federation, runs);
  }

  /** The run's end was heard: nothing more to ask about it. */
  ended(federation: string, runId: string): void {
    const runs = this.#joined.get(federation)?.filter((r) => r !== runId) ?? [];
    if (runs.length === 0) this.#joined.delete(federation);
    else this.#joined.set(federation, runs);
  }

  has(key: string): boolean {
    return this.#keys.has(key);
  }

  add(key: string): void {
    this.#keys.add(key);
    if (this.#keys.size > LEDGER_CAPACITY) {
      const oldest = this.#keys.values().next();
      if (oldest.done !== true) this.#keys.delete(oldest.value);
    }
  }
}

export interface TaskStreamOptions {
  readonly federation: string;
  /** Ends the stream (quietly) when it aborts. */
  readonly signal: AbortSignal;
  /** Signals that also abort each task's signal (the caller's and the client's shutdown). */
  readonly taskParents: ReadonlyArray<AbortSignal | undefined>;
}

export interface TaskStreamDeps {
  readonly session: SiteSession;
  readonly ledger: TaskLedger;
  readonly metrics: MetricsPublisher;
}

/**
 * WatchTasks as an async iterable of ready-to-train tasks: reconnects with backoff and jitter
 * after transient failures, downloads and checks each task's model, and skips tasks already
 * handed out. Ends when `signal` aborts; throws for permanent failures (e.g. not a member).
 */
export async function* watchTasks(deps: TaskStreamDeps, opts: TaskStreamOptions): AsyncGenerator<ActiveSiteTask | RunEnd, void, undefined> {
  const { session } = deps;
  const { federation, signal } = opts;
  assertName('federation', federation);
  const backoff = new Backoff({ policy: session.options.retry });

  while (!signal.aborted) {
    try {
      const stream = session.rpc.serverStream<WatchTasksRequest, Task__Output>(
        'WatchTasks',
        { federation, joinedRuns: deps.ledger.joinedRuns(federation) },
        { signal },
      );
      session.logger.debug({ federation }, 'watching tasks');
      for await (const raw of stream) {
        backoff.reset();
        const task = await prepareTask(deps, opts, raw);
        if (task !== undefined) yield task;
      }
      if (signal.aborted) return;
      session.logger.debug({ federation }, 'task stream ended by the coordinator; reconnecting');
    } catch (err) {
      if (signal.aborted) return;
      const e = TributaryError.from(err);
      // Not retryable, or past retry.maxRetries / retry.maxWait (unlimited by default).
      const delayMs = backoff.retryDelay(e);
      if (delayMs === undefined) throw e;
      session.logger.warn(
        { federation, attempt: backoff.attempt, delayMs, err: describeError(e) },
        'task stream interrupted; reconnecting',
      );
      if (!(await pause(delayMs, signal))) return;
      continue;
    }
    if (!(await pause(backoff.nextDelay(), signal))) return;
  }
}

/** Sleeps `ms`; false when `signal` aborted meanwhile. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Turns a wire Task into a SiteTask with its model, or into the run end it tells, or undefined
 * (logged) when it is skipped.
 */
async function prepareTask(
  deps: TaskStreamDeps,
  opts: TaskStreamOptions,
  raw: Task__Output,
): Promise<ActiveSiteTask | RunEnd | undefined> {
  const { session, ledger } = deps;
  const where = { federation: raw.federation, runId: raw.runId, round: raw.round };
  if (raw.kind === RUN_ENDED_KIND) {
    const end = runEndOf(raw, opts.federation);
    if (typeof end === 'string') {
      session.logger.warn({ ...where, problem: end }, 'malformed run end skipped');
      return undefined;
    }
    // Told on reconnecting: it concerns this site only if it took part in the run.
    if (raw.announced && !ledger.hasJoined(end.federation, end.runId)) {
      session.logger.debug(where, 'end of a run this site did not take part in skipped');
      return undefined;
    }
    ledger.ended(end.federation, end.runId);
    if (raw.announced) session.logger.info({ ...where, status: end.status }, 'a run this site took part in ended while it was away');
    return end;
  }
  const problem = taskProblem(raw, opts.federation);
  if (problem !== undefined) {
    session.logger.warn({ ...where, problem }, 'malformed task skipped');
    return undefined;
  }
  // Before the task is handed out, so its metrics and update go where the coordinator listens.
  await session.nats.follow(raw.natsUrls);
  const key = taskKey(raw);
  if (ledger.has(key)) {
    session.logger.debug(where, 'task already handled; skipped');
    return undefined;
  }
  if (raw.deadlineAtMs > 0 && raw.deadlineAtMs <= Date.now()) {
    session.logger.warn({ ...where, deadlineAtMs: raw.deadlineAtMs }, 'task deadline already passed; skipped');
    ledger.add(key);
    return undefined;
  }

  const link = taskSignal(raw, opts.taskParents);
  // The download stops when the stream stops or the task's deadline passes.
  const download = linkSignals([opts.signal, link.signal]);
  try {
    const started = Date.now();
    const payload = await downloadModel(
      session.rpc,
      { federation: raw.federation, version: raw.modelVersion, expect: { sha256: raw.modelSha256, size: raw.modelSize } },
      { signal: download.signal, retry: session.options.retry, onRetry: logDownloadRetry(session.logger, raw.federation) },
    );
    const model = decodeModel(payload.bytes, raw);
    session.logger.info(
      { ...where, modelVersion: payload.version, bytes: payload.bytes.length, ms: Date.now() - started },
      'task received',
    );
    ledger.add(key);
    ledger.join(raw.federation, raw.runId);
    const metrics = deps.metrics.forTask(where);
    // Heartbeats from the moment the task is handed out: training may take longer than the idle timeout.
    // They outlive the task's deadline (an upload may be granted time past it), not the client or the caller's signal.
    const heartbeat = raw.kind === 'train' ? TaskHeartbeat.start({ session, task: where, intervalSeconds: raw.heartbeatIntervalSeconds, stopWith: opts.taskParents }) : undefined;
    return new ActiveSiteTask({ task: raw, model, signal: link, metrics, ...(heartbeat === undefined ? {} : { heartbeat }) });
  } catch (err) {
    link.dispose();
    if (opts.signal.aborted) return undefined;
    session.logger.warn({ ...where, err: describeError(err) }, 'model download failed; task skipped');
    return undefined;
  } finally {
    download.dispose();
  }
}

function decodeModel(bytes: Uint8Array, raw: Task__Output): TensorMap {
  // The tensors view the downloaded bytes where they are aligned (no second copy of the model):
  // nothing else holds those bytes.
  const { tensors } = decodeSafetensors(bytes, { view: true });
  // An empty spec means a heterogeneous federation (ensembles): any model goes.
  const spec = raw.modelSpec?.tensors ?? [];
  const mismatch = spec.length === 0 ? undefined : checkSpec(spec, tensorSpecsOf(tensors));
  if (mismatch !== undefined) {
    throw TributaryError.of(
      Reason.SCHEMA_MISMATCH,
      `global model v${raw.modelVersion} does not match the task's model spec: ${mismatch}`,
      { code: 'DATA_LOSS' },
    );
  }
  return tensors;
}
