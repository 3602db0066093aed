import {
  Reason,
  STREAM_METRICS,
  TributaryError,
  decodeEnvelope,
  decodeMetricBatch,
  isValidName,
  refusalOf,
  verifyEnvelope,
  type MetricBatch__Output,
  type ReasonCode,
  type Refusal,
} from '@tributary/proto';
import { nanos, type ConsumerMessages, type JsMsg, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { CoordinatorMetrics } from '../observability/metrics.js';
import type { StateStore } from '../state/index.js';
import type { RunTracker } from '../tracking/run-tracker.js';
import { validateMetricKey } from '../tracking/validation.js';
import type { MetricEventBus } from './metric-events.js';
import { SupervisedConsumer, storedAtMs } from './streams.js';
import type { SitePresence } from '../sites/presence.js';

/** A refused batch: the refusal, tagged so it cannot be mistaken for a batch. */
type RefusedBatch = { readonly ok: false } & Refusal;

function refusal(reason: ReasonCode, message: string): RefusedBatch {
  return { ok: false, ...refusalOf(reason, message) };
}

export interface MetricIngestOptions {
  nc: NatsConnection;
  state: StateStore;
  /** Where verified points go; resolves once the tracking store committed them. */
  tracker: Pick<RunTracker, 'logSiteMetrics'>;
  /** Committed points are published here, for WatchMetrics. */
  bus: MetricEventBus;
  metrics: CoordinatorMetrics;
  logger: Logger;
  /** Durable consumer on TRIB_METRICS (`METRIC_CONSUMER`); coordinators sharing it share the work. */
  consumerName: string;
  /** Creates the data plane's streams (again, after a NATS server lost its storage). */
  ensureStreams: () => Promise<void>;
  /**
   * Longest time a verified point waits before it is written. Points are written as soon as the
   * store is idle and nothing else has arrived, or the write before finished; this only bounds
   * the wait in between.
   */
  flushIntervalMs: number;
  /** Points that are written at once, without waiting for the interval. */
  maxBatchPoints: number;
  /** A batch not settled within this time is redelivered. */
  ackWaitMs: number;
  /** Batches delivered and not yet acked. */
  maxAckPending: number;
  /** Bytes pulled ahead of the verifier. */
  pullMaxBytes: number;
  /** Points one batch may carry. */
  maxPointsPerBatch: number;
  /** Redelivery delay after a failed write: doubles with each delivery up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Told when a site's batch is attributable to it (signature verified): its last seen. */
  presence?: Pick<SitePresence, 'seen'>;
}
/** Run id -> federation entries kept; runs never move, so the cache only needs a size bound. */
const RUN_CACHE_SIZE = 10_000;

/** Tracking store errors about the data itself: retrying the same points cannot succeed. */
const PERMANENT_CODES: ReadonlySet<string> = new Set(['INVALID_ARGUMENT', 'NOT_FOUND', 'OUT_OF_RANGE']);

/** A verified batch waiting to be written, and the delivery to ack once it is. */
interface Accepted {
  msg: JsMsg;
  readonly batch: MetricBatch__Output;
}

/** The tokens of trib.<federation>.metrics.<run>.<site>, unauthenticated. */
interface MetricsSubject {
  federation: string;
  runId: string;
  site: string;
}

/**
 * Verifies signed metric batches from TRIB_METRICS and writes their points to the tracking
 * store, many batches in one `logSiteMetrics` call per run. A batch is acked only once its points
 * are committed, so a failed write or a crash means redelivery, never loss; a refused batch is
 * counted by reason, logged and terminated. Committed points are published on the bus.
 */
export class MetricIngest {
  private readonly log: Logger;
  private consuming?: SupervisedConsumer;
  /** Verified batches not yet handed to a write. */
  private buffer: Accepted[] = [];
  private bufferedPoints = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Writes run one after another; this is the last one queued. It never rejects. */
  private writes: Promise<void> = Promise.resolve();
  /** Writes queued or running. */
  private writing = 0;
  /** Buffered or being written, by stream sequence: a redelivery meanwhile only refreshes the ack handle. */
  private readonly unsettled = new Map<number, Accepted>();
  private readonly runFederations = new Map<string, string>();

  constructor(private readonly opts: MetricIngestOptions) {
    this.log = opts.logger.child({ component: 'metric-ingest' });
  }

  /** Binds the durable consumer (the streams must exist: ensureStreams) and starts processing. */
  async start(): Promise<void> {
    if (this.consuming) return;
    const consuming = new SupervisedConsumer({
      nc: this.opts.nc,
      stream: STREAM_METRICS,
      name: this.opts.consumerName,
      tuning: { ack_wait: nanos(this.opts.ackWaitMs), max_ack_pending: this.opts.maxAckPending, max_deliver: -1 },
      pull: { max_bytes: this.opts.pullMaxBytes },
      setUp: this.opts.ensureStreams,
      drain: (messages) => this.run(messages),
      logger: this.log,
    });
    await consuming.start();
    this.consuming = consuming;
    this.log.debug({ consumer: this.opts.consumerName }, 'metric ingest started');
  }

  /** Stops pulling, then writes and acks what was verified so far. */
  async stop(): Promise<void> {
    const consuming = this.consuming;
    this.consuming = undefined;
    if (!consuming) return;
    await consuming.stop();
    await this.flush();
    this.log.debug('metric ingest stopped');
  }

  private async run(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const m of messages) {
        await this.receive(m);
        if (this.buffer.length === 0) continue;
        if (this.bufferedPoints >= this.opts.maxBatchPoints) {
          // Verifying goes on while one write runs; a second full buffer waits for it.
          const previous = this.writes;
          void this.flush();
          await previous;
        } else if (this.writing === 0 && messages.getPending() <= 1) {
          // Nothing else has arrived and the store is idle: write now rather than wait.
          void this.flush();
        } else if (this.timer === undefined) {
          this.timer = setTimeout(() => void this.flush(), this.opts.flushIntervalMs);
        }
      }
    } finally {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Verifies one delivery and buffers it, or refuses it; never throws. */
  private async receive(m: JsMsg): Promise<void> {
    const pending = this.unsettled.get(m.seq);
    if (pending !== undefined) {
      // Redelivered while its write is under way: ack the newest delivery, write nothing twice.
      pending.msg = m;
      return;
    }
    let verdict: MetricBatch__Output | RefusedBatch;
    try {
      verdict = await this.verify(m);
    } catch (err) {
      // The state store failed, not the batch: try again later.
      this.log.error({ err: TributaryError.from(err), subject: m.subject }, 'metric batch could not be verified; will retry');
      this.settle(() => m.nak(this.retryDelayMs(m.info.deliveryCount)));
      return;
    }
    if ('ok' in verdict) {
      this.refuse(m, verdict);
      return;
    }
    if (verdict.points.length === 0) {
      this.settle(() => m.ack());
      return;
    }
    const accepted: Accepted = { msg: m, batch: verdict };
    this.buffer.push(accepted);
    this.unsettled.set(m.seq, accepted);
    this.bufferedPoints += verdict.points.length;
  }

  /** The checks, in order: envelope, key, signature, batch, site, subject, membership, run, points. */
  private async verify(m: JsMsg): Promise<MetricBatch__Output | RefusedBatch> {
    const { state } = this.opts;
    let envelope;
    try {
      envelope = decodeEnvelope(m.data);
    } catch (err) {
      return refusal(Reason.MALFORMED_ENVELOPE, `metrics envelope cannot be decoded: ${TributaryError.from(err).message}`);
    }
    if (envelope.kind !== 'metrics') return refusal(Reason.MALFORMED_ENVELOPE, `envelope kind "${envelope.kind}" is not "metrics"`);
    const site = await state.getSiteByKeyId(envelope.keyId);
    if (site === undefined) return refusal(Reason.UNKNOWN_KEY, `key ${JSON.stringify(envelope.keyId)} is not known`);
    if (site.status === 'REVOKED') return refusal(Reason.KEY_REVOKED, `the key of site "${site.name}" is revoked`);
    if (!verifyEnvelope(envelope, Buffer.from(site.publicKey, 'base64'))) {
      return refusal(Reason.SIGNATURE_INVALID, `signature does not verify with the key of site "${site.name}"`);
    }
    let batch: MetricBatch__Output;
    try {
      batch = decodeMetricBatch(envelope.body);
    } catch (err) {
      return refusal(Reason.MALFORMED_ENVELOPE, `metric batch cannot be decoded: ${TributaryError.from(err).message}`);
    }
    if (batch.site !== site.name) {
      return refusal(Reason.SITE_MISMATCH, `batch names site "${batch.site}" but is signed by site "${site.name}"`);
    }
    const mismatch = subjectMismatch(m.subject, batch);
    if (mismatch !== undefined) return refusal(Reason.SUBJECT_MISMATCH, mismatch);
    if (!site.federations.includes(batch.federation)) {
      return refusal(Reason.NOT_A_MEMBER, `site "${site.name}" is not a member of federation "${batch.federation}"`);
    }
    this.opts.presence?.seen(site.name, storedAtMs(m));
    if ((await this.federationOfRun(batch.runId)) !== batch.federation) {
      return refusal(Reason.RUN_NOT_FOUND, `run "${batch.runId}" of federation "${batch.federation}" does not exist`);
    }
    const problem = pointsProblem(batch, this.opts.maxPointsPerBatch);
    if (problem !== undefined) return refusal(problem.reason, problem.message);
    return batch;
  }

  private async federationOfRun(runId: string): Promise<string | undefined> {
    const known = this.runFederations.get(runId);
    if (known !== undefined) return known;
    const run = await this.opts.state.getRun(runId);
    if (run === undefined) return undefined;
    if (this.runFederations.size >= RUN_CACHE_SIZE) this.runFederations.clear();
    this.runFederations.set(runId, run.federation);
    return run.federation;
  }

  private refuse(m: JsMsg, r: RefusedBatch): void {
    this.opts.metrics.metricBatchesRefused.inc({ reason: r.reason });
    this.log.warn({ subject: m.subject, reason: r.reason }, `metric batch refused: ${r.message}`);
    this.settle(() => m.term());
  }

  /**
   * Hands the buffer to a write, queued behind the one running; resolves when it is done. What
   * arrives during a write goes in the next one (group commit): writes grow with the load, and a
   * point waits at most for one write before its own begins.
   */
  private flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return this.writes;
    const items = this.buffer;
    this.buffer = [];
    this.bufferedPoints = 0;
    this.writing += 1;
    this.writes = this.writes
      .then(() => this.write(items))
      .catch((err: unknown) => this.log.error({ err }, 'metric write failed unexpectedly; its batches will be redelivered'))
      .then(() => {
        this.writing -= 1;
        if (this.writing === 0 && this.buffer.length > 0) void this.flush();
      });
    return this.writes;
  }

  /** Writes the batches, one tracker call per run; never rejects. */
  private async write(items: readonly Accepted[]): Promise<void> {
    const byRun = new Map<string, Accepted[]>();
    for (const item of items) {
      const group = byRun.get(item.batch.runId);
      if (group === undefined) byRun.set(item.batch.runId, [item]);
      else group.push(item);
    }
    await Promise.all([...byRun].map(([runId, group]) => this.writeRun(runId, group)));
  }

  private async writeRun(runId: string, group: readonly Accepted[]): Promise<void> {
    try {
      await this.opts.tracker.logSiteMetrics(runId, group.map(entryOf));
    } catch (err) {
      await this.writeFailed(runId, group, TributaryError.from(err));
      return;
    }
    this.committed(group, Date.now());
  }

  /**
   * A write of several batches that the store refuses for its data is retried batch by batch,
   * so one bad batch cannot hold the others back; any other failure is retried by redelivery.
   */
  private async writeFailed(runId: string, group: readonly Accepted[], e: TributaryError): Promise<void> {
    this.opts.metrics.metricFlushFailures.inc();
    if (!PERMANENT_CODES.has(e.code)) {
      this.log.error({ runId, batches: group.length, err: e }, 'metric points could not be written; they will be redelivered');
      for (const item of group) this.release(item, (m) => m.nak(this.retryDelayMs(m.info.deliveryCount)));
      return;
    }
    if (group.length === 1) {
      const item = group[0]!;
      this.release(item, (m) => this.refuse(m, refusal(e.reason, `the tracking store refused the batch: ${e.message}`)));
      return;
    }
    for (const item of group) await this.writeRun(runId, [item]);
  }

  /** Acks the batches, records their lag and publishes them. */
  private committed(group: readonly Accepted[], storedAtMs: number): void {
    const { metrics, bus } = this.opts;
    for (const item of group) {
      const { batch } = item;
      for (const p of batch.points) metrics.metricIngestLag.observe(Math.max(0, storedAtMs - p.timestampMs) / 1000);
      metrics.metricPoints.inc(batch.points.length);
      this.release(item, (m) => m.ack());
      if (bus.watched(batch.federation)) {
        bus.publish({ federation: batch.federation, runId: batch.runId, round: batch.round, site: batch.site, points: batch.points, storedAtMs });
      }
    }
  }

  private release(item: Accepted, reply: (m: JsMsg) => void): void {
    this.unsettled.delete(item.msg.seq);
    this.settle(() => reply(item.msg));
  }

  private retryDelayMs(deliveries: number): number {
    return Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** Math.max(0, deliveries - 1));
  }

  /** Acks, naks or terminates; a closed connection only means the batch comes back later. */
  private settle(reply: () => void): void {
    try {
      reply();
    } catch (err) {
      this.log.warn({ err }, 'could not settle a metric batch; it will be redelivered');
    }
  }
}

function entryOf(item: Accepted): { site: string; points: MetricBatch__Output['points'] } {
  return { site: item.batch.site, points: item.batch.points };
}

function parseMetricsSubject(subject: string): MetricsSubject | undefined {
  const t = subject.split('.');
  if (t.length !== 5 || t[0] !== 'trib' || t[2] !== 'metrics') return undefined;
  const [, federation, , runId, site] = t as [string, string, string, string, string];
  return isValidName(federation) && isValidName(site) ? { federation, runId, site } : undefined;
}

/** The subject's tokens disagree with the signed batch: the first differing field, or undefined. */
function subjectMismatch(subject: string, batch: MetricBatch__Output): string | undefined {
  const parsed = parseMetricsSubject(subject);
  if (parsed === undefined) return `subject "${subject}" is not a metrics subject`;
  for (const field of ['federation', 'runId', 'site'] as const) {
    if (parsed[field] !== batch[field]) {
      return `subject "${subject}" says ${field} ${JSON.stringify(parsed[field])}, the batch ${JSON.stringify(batch[field])}`;
    }
  }
  return undefined;
}

/** Keys already found valid, by site; a stream repeats a few keys many times over. */
const validKeys = new Map<string, Set<string>>();
const VALID_KEYS_PER_SITE = 10_000;

/**
 * A point the tracking store would refuse, as a message, or undefined. Keys follow MLflow's rules
 * as stored (`site/<site>/<key>`); NaN and ±Infinity are kept, as MLflow keeps them.
 */
function pointsProblem(batch: MetricBatch__Output, maxPoints: number): RefusedBatch | undefined {
  const invalid = (message: string): RefusedBatch => refusal(Reason.INVALID_ARGUMENT, message);
  if (batch.points.length > maxPoints) return invalid(`${batch.points.length} points in one batch; at most ${maxPoints}`);
  let known = validKeys.get(batch.site);
  if (known === undefined || known.size >= VALID_KEYS_PER_SITE) {
    known = new Set();
    validKeys.set(batch.site, known);
  }
  for (let i = 0; i < batch.points.length; i++) {
    const p = batch.points[i]!;
    if (!known.has(p.key)) {
      if (p.key === '') return refusal(Reason.INVALID_METRIC_KEY, `point ${i} has no key`);
      try {
        validateMetricKey(`site/${batch.site}/${p.key}`);
      } catch (err) {
        return refusal(Reason.INVALID_METRIC_KEY, `point ${i}: ${TributaryError.from(err).message}`);
      }
      known.add(p.key);
    }
    if (!Number.isSafeInteger(p.timestampMs) || p.timestampMs < 0) return invalid(`point ${i} ("${p.key}") has an invalid timestamp ${p.timestampMs}`);
    if (!Number.isSafeInteger(p.step)) return invalid(`point ${i} ("${p.key}") has an invalid step ${p.step}`);
  }
  return undefined;
}
