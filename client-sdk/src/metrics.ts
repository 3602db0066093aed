import {
  TributaryError,
  encodeEnvelope,
  encodeMetricBatch,
  newUpdateId,
  signEnvelope,
  subjects,
} from '@tributary/proto';
import type { MetricPoint } from '@tributary/proto';
import { publishDurably } from './jetstream.js';
import { describeError } from './logging.js';
import type { SiteSession } from './session.js';

/** Attempts per metric batch: metrics are best effort and must not pile up behind an outage. */
const METRIC_PUBLISH_ATTEMPTS = 3;
/** Points buffered or in flight per task beyond which new points are dropped. */
const MAX_PENDING_POINTS = 50_000;
/** MLflow's limit on metric key length. */
const MAX_KEY_LENGTH = 250;

export interface MetricsScope {
  readonly federation: string;
  readonly runId: string;
  readonly round: number;
}

/**
 * The metrics side of a site: one `TaskMetrics` per task, each batching its points into signed
 * MetricBatch messages on trib.<fed>.metrics.<run>.<site>. Tracks the logs with unpublished
 * points so `close()` can flush them all.
 */
export class MetricsPublisher {
  readonly #session: SiteSession;
  readonly #busy = new Set<TaskMetrics>();
  #closed = false;

  constructor(session: SiteSession) {
    this.#session = session;
  }

  /** A metrics log for one task. */
  forTask(scope: MetricsScope): TaskMetrics {
    return new TaskMetrics(this.#session, scope, {
      busy: (m) => this.#busy.add(m),
      idle: (m) => this.#busy.delete(m),
      closed: () => this.#closed,
    });
  }

  /** Publishes every buffered point (best effort). */
  async flushAll(): Promise<void> {
    await Promise.all([...this.#busy].map((m) => m.flush()));
  }

  /** Later points are ignored: the connection is going away. */
  close(): void {
    this.#closed = true;
  }
}

interface BusyTracker {
  busy(m: TaskMetrics): void;
  idle(m: TaskMetrics): void;
  closed(): boolean;
}

/** One task's metric points: batched by time and count, published in order, failures logged. */
export class TaskMetrics {
  readonly #session: SiteSession;
  readonly #scope: MetricsScope;
  readonly #tracker: BusyTracker;
  #points: MetricPoint[] = [];
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #pending = 0;
  #calls = 0;
  #droppedWarned = false;

  constructor(session: SiteSession, scope: MetricsScope, tracker: BusyTracker) {
    this.#session = session;
    this.#scope = scope;
    this.#tracker = tracker;
  }

  /** Buffers the points; throws INVALID_ARGUMENT for a malformed call, never for transport problems. */
  log(metrics: Record<string, number>, step?: number): void {
    const entries = validPoints(metrics, step);
    if (this.#tracker.closed()) return;
    const at = Date.now();
    const s = step ?? this.#calls;
    this.#calls++;
    if (entries.length === 0) return;
    if (this.#pending + entries.length > MAX_PENDING_POINTS) {
      if (!this.#droppedWarned) {
        this.#droppedWarned = true;
        this.#session.logger.warn(
          { ...this.#scope, pending: this.#pending },
          'metrics are not getting through; dropping new points',
        );
      }
      return;
    }
    for (const [key, value] of entries) this.#points.push({ key, value, timestampMs: at, step: s });
    this.#pending += entries.length;
    this.#tracker.busy(this);
    if (this.#points.length >= this.#session.options.metricsMaxBatch) {
      void this.flush();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => void this.flush(), this.#session.options.metricsFlushIntervalMs);
      this.#timer.unref();
    }
  }

  /** Publishes the buffered points; resolves once everything logged so far was sent or given up on. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const max = this.#session.options.metricsMaxBatch;
    while (this.#points.length > 0) {
      const batch = this.#points.splice(0, max);
      this.#chain = this.#chain.then(() => this.#publish(batch));
    }
    const chain = this.#chain;
    return chain.then(() => {
      if (this.#chain === chain && this.#pending === 0) this.#tracker.idle(this);
    });
  }

  async #publish(points: MetricPoint[]): Promise<void> {
    const { site, key, js, logger, options } = this.#session;
    const { federation, runId, round } = this.#scope;
    const batchId = newUpdateId();
    try {
      const body = encodeMetricBatch({
        federation,
        runId,
        round,
        site,
        batchId,
        createdAtMs: Date.now(),
        points,
      });
      const envelope = encodeEnvelope(signEnvelope('metrics', body, key, options.signer));
      await publishDurably(
        js,
        { subject: subjects.metrics(federation, runId, site), data: envelope, msgID: batchId },
        { policy: options.retry, maxAttempts: METRIC_PUBLISH_ATTEMPTS, logger },
      );
      logger.debug({ federation, runId, round, batchId, points: points.length }, 'metrics published');
    } catch (err) {
      logger.warn(
        { federation, runId, round, batchId, points: points.length, err: describeError(err) },
        'metrics batch dropped',
      );
    } finally {
      this.#pending -= points.length;
    }
  }
}

function validPoints(metrics: Record<string, number>, step: number | undefined): Array<[string, number]> {
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) {
    throw TributaryError.invalidArgument('task.log: metrics must be an object of numbers, e.g. { loss: 0.3 }');
  }
  if (step !== undefined && !Number.isSafeInteger(step)) {
    throw TributaryError.invalidArgument(`task.log: step must be an integer, got ${String(step)}`);
  }
  const entries = Object.entries(metrics);
  for (const [key, value] of entries) {
    if (key === '' || key.length > MAX_KEY_LENGTH) {
      throw TributaryError.invalidArgument(`task.log: metric key must be 1 to ${MAX_KEY_LENGTH} characters, got "${key.slice(0, 40)}"`);
    }
    if (typeof value !== 'number') {
      throw TributaryError.invalidArgument(`task.log: metric "${key}" must be a number, got ${typeof value}`);
    }
  }
  return entries;
}
