import {
  Reason,
  TributaryError,
  refusalCount,
  totalRefusals,
  type GetMetricHistoryResponse__Output,
  type MetricPoint__Output,
  type MetricSeries__Output,
  type SearchRunsResponse__Output,
  type TrackedRun__Output,
  quoted,
} from '@tributary/proto';
import type { Logger } from 'pino';
import { COORDINATOR_DEFAULTS } from '../config/coordinator-options.js';
import type { RunEventBus } from '../rounds/events.js';
import { SETTINGS_DEFAULTS } from '../rounds/settings.js';
import type { RoundRecord, RunRecord, StateStore } from '../state/index.js';
import type { CoordinatorMetrics } from '../observability/metrics.js';
import { isResourceDoesNotExist } from './errors.js';
import type { OutboxEntry, OutboxWrite, TrackingOutbox } from './outbox.js';
import type { MetricInput, Param, TrackingRunStatus, TrackingRunTag, TrackingStore } from './store.js';

/** Tag holding Tributary's run id on the tracking run. */
export const RUN_ID_TAG = 'tributary.run_id';
/** Tag holding the last round logged (the outbox's cursor decides what is logged; the tag tells operators). */
const LOGGED_ROUNDS_TAG = 'tributary.logged_rounds';
/** Codes of a store refusing the data itself (not being unavailable): the same write would fail again. */
const STORE_REFUSALS: ReadonlySet<string> = new Set(['INVALID_ARGUMENT', 'OUT_OF_RANGE']);
/**
 * MLflow's documented 4xx error codes about the request itself (as our reasons): the same write
 * would be refused again. Throttling (429), authentication (401, 403) and every 5xx are retried.
 */
const REFUSAL_REASONS: ReadonlySet<string> = new Set([Reason.INVALID_PARAMETER_VALUE, Reason.RESOURCE_DOES_NOT_EXIST, Reason.RESOURCE_ALREADY_EXISTS]);
/** MLflow caps tag values at 5000 characters. */
const MAX_TAG_CHARS = 5000;
/** Most points GetMetricHistory returns per series. */
const MAX_HISTORY_POINTS = 10_000;

const TRACKING_RUN_STATUS_OF: Readonly<Record<string, TrackingRunStatus>> = {
  RUN_STATUS_RUNNING: 'RUNNING',
  RUN_STATUS_FINISHED: 'FINISHED',
  RUN_STATUS_FAILED: 'FAILED',
  RUN_STATUS_KILLED: 'KILLED',
};

export interface RunTrackerOptions {
  store: TrackingStore;
  state: StateStore;
  events: RunEventBus;
  logger: Logger;
  /** Where writes wait until the store takes them; survives restarts. */
  outbox: TrackingOutbox;
  /** Outbox depth and refused writes are reported here. */
  metrics?: Pick<CoordinatorMetrics, 'trackingOutboxDepth' | 'trackingWritesRefused'>;
  /** First wait before retrying a write the store did not take (doubling after each failure). @default COORDINATOR_DEFAULTS.trackingRetryDelayMs */
  retryDelayMs?: number;
  /** Longest wait between retries. @default COORDINATOR_DEFAULTS.trackingRetryMaxDelayMs */
  retryMaxDelayMs?: number;
  /** Longest time stop() spends delivering what waits in the outbox. @default COORDINATOR_DEFAULTS.trackingFlushTimeoutMs */
  flushTimeoutMs?: number;
}

/** The tracking outbox as /healthz details it. */
export interface TrackingHealth {
  outboxDepth: number;
  oldestWaitingSeconds: number;
  refusedWrites: number;
  /** The store's last failure while writes wait, if any. */
  lastError?: string;
}

/**
 * Logs runs into the tracking store, MLflow style: one experiment per federation, one run per
 * training run, the federation settings as params, rounds as steps, lineage as tags, and the
 * sites' live metrics as `site/<site>/<key>`. It is driven by the state store, not by memory:
 * each run event triggers a sync that puts whatever became final since the run's cursor into a
 * durable outbox (records and cursor in one synced batch), and a single deliverer hands the
 * outbox to the store in order, retrying with capped exponential backoff. A coordinator restart
 * or a tracking outage loses nothing, it only delays; a write the store refuses for its data is
 * recorded and counted, not retried for ever. Re-delivering an entry (a crash after the store
 * took it) writes nothing twice: metric points are idempotent, params immutable, tags last-write.
 */
export class RunTracker {
  /** Tracking run of each Tributary run; a promise, so concurrent callers create it once. */
  private readonly trackingRunIds = new Map<string, Promise<string>>();
  private readonly experimentIds = new Map<string, string>();
  /** Last round logged of each run: its LOGGED_ROUNDS_TAG, read from the store on the first sync. */
  private readonly loggedRounds = new Map<string, number>();
  private readonly pending = new Set<string>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private chain: Promise<unknown> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  /** Set once stop() gave up delivering: nothing more is sent. */
  private halted = false;
  /** The delivery loop while it runs. */
  private draining: Promise<void> | undefined;
  /** Entries were enqueued while the loop ran: it runs again once it ends. */
  private drainAgain = false;
  /** The wait before the next delivery attempt after a failure. */
  private backoff: NodeJS.Timeout | undefined;
  /** Failed attempts in a row. */
  private failures = 0;
  private lastError: string | undefined;
  private readonly restWaiters: Array<() => void> = [];
  private readonly log: Logger;

  constructor(private readonly opts: RunTrackerOptions) {
    this.log = opts.logger.child({ component: 'tracking' });
  }

  /** Follows run events, catches up on every run the state store knows, and delivers what a previous coordinator left in the outbox. */
  async start(): Promise<void> {
    this.unsubscribe = this.opts.events.subscribeAll((runId) => this.schedule(runId));
    this.observeOutbox();
    this.drain();
    for (const run of await this.opts.state.listRuns()) this.schedule(run.id);
  }

  /**
   * Stops following events, puts what is final in the outbox, and delivers what it can within
   * the flush timeout (the rest waits in the outbox for the next start). A delivery still in
   * flight then ends when the store closes; see settled().
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    for (const timer of this.retries.values()) clearTimeout(timer);
    await this.chain.catch(() => undefined);
    if (this.halted) return;
    clearTimeout(this.backoff);
    this.backoff = undefined;
    const flushMs = this.opts.flushTimeoutMs ?? COORDINATOR_DEFAULTS.trackingFlushTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, flushMs);
    });
    // One attempt per entry: a failure ends the flush (its backoff timer is cleared below).
    this.drain();
    await Promise.race([this.atRest(), deadline]);
    clearTimeout(timer);
    this.halted = true;
    clearTimeout(this.backoff);
    this.backoff = undefined;
    if (this.opts.outbox.depth > 0) this.log.warn({ outboxDepth: this.opts.outbox.depth }, 'tracking writes left in the outbox; the next start delivers them');
  }

  /** Resolves once the delivery in flight (if any) ended; call after closing the store, before closing the outbox. */
  async settled(): Promise<void> {
    await this.atRest();
  }

  /** Resolves once every scheduled sync has run and the outbox is delivered or waits out a backoff (for tests and orderly shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const current = this.chain;
      await current.catch(() => undefined);
      await this.atRest();
      if (current === this.chain && this.pending.size === 0 && this.draining === undefined) return;
    }
  }

  /** The outbox, as /healthz details it. */
  health(): TrackingHealth {
    const { outbox } = this.opts;
    return {
      outboxDepth: outbox.depth,
      oldestWaitingSeconds: Math.round(outbox.oldestAgeMs() / 1000),
      refusedWrites: outbox.refused,
      ...(this.lastError !== undefined && outbox.depth > 0 ? { lastError: this.lastError } : {}),
    };
  }

  /** Appends sites' metric points to the run as `site/<site>/<key>`, in one batch. */
  async logSiteMetrics(
    runId: string,
    entries: ReadonlyArray<{ site: string; points: ReadonlyArray<{ key: string; value: number; timestampMs: number; step: number }> }>,
  ): Promise<void> {
    // Runs are never deleted, so a run already mapped to a tracking run needs no state read.
    const trackingRunId = await (this.trackingRunIds.get(runId) ?? this.ensureTrackingRun(await this.requireRun(runId)));
    const metrics: MetricInput[] = [];
    for (const e of entries) {
      for (const p of e.points) metrics.push({ key: siteKey(e.site, p.key), value: p.value, timestamp: p.timestampMs, step: p.step });
    }
    if (metrics.length > 0) await this.opts.store.logBatch(trackingRunId, { metrics });
  }

  /**
   * Marks the federation's experiment deleted, through the outbox after whatever its runs still
   * have to log (a force-stopped run's end first): the deletion survives a restart or an outage
   * of the store like any other write. Resolves once it is in the outbox.
   */
  deleteExperiment(federation: string): Promise<void> {
    const queued = this.chain.then(async () => {
      for (const run of await this.opts.state.listRuns(federation)) await this.sync(run.id);
      await this.opts.outbox.enqueue('', [{ kind: 'deleteExperiment', federation }], undefined);
      this.observeOutbox();
      this.drain();
    });
    this.chain = queued.catch(() => undefined);
    return queued;
  }

  /** Runs of a federation in the tracking store, with MLflow's search semantics. */
  async searchTrackingRuns(federation: string, opts: { filter?: string; orderBy?: string[]; maxResults?: number; pageToken?: string }): Promise<SearchRunsResponse__Output> {
    const experimentId = await this.findExperiment(federation);
    if (experimentId === undefined) return { runs: [], nextPageToken: '' };
    const page = await this.opts.store.searchRuns({
      experimentIds: [experimentId],
      ...(opts.filter ? { filter: opts.filter } : {}),
      ...(opts.orderBy && opts.orderBy.length > 0 ? { orderBy: opts.orderBy } : {}),
      maxResults: opts.maxResults || 100,
      ...(opts.pageToken ? { pageToken: opts.pageToken } : {}),
    });
    const runs: TrackedRun__Output[] = page.runs.map((r) => ({
      trackingRunId: r.info.runId,
      runId: r.data.tags[RUN_ID_TAG] ?? '',
      name: r.info.runName,
      status: r.info.status,
      startTimeMs: r.info.startTime,
      endTimeMs: r.info.endTime ?? 0,
      metrics: Object.fromEntries(Object.entries(r.data.metrics).map(([k, m]) => [k, m.value])),
      params: { ...r.data.params },
      tags: { ...r.data.tags },
    }));
    return { runs, nextPageToken: page.nextPageToken ?? '' };
  }

  /** The run's own series of `key` (rounds as steps) and each site's `site/<site>/<key>`. */
  async metricHistory(federation: string, runId: string, key: string, maxPoints = MAX_HISTORY_POINTS): Promise<GetMetricHistoryResponse__Output> {
    const limit = Math.max(2, Math.min(MAX_HISTORY_POINTS, maxPoints || MAX_HISTORY_POINTS));
    let run: RunRecord | undefined;
    if (runId) {
      run = await this.requireRun(runId);
      if (run.federation !== federation) throw TributaryError.notFound(`run ${quoted(runId)} does not belong to federation ${quoted(federation)}`);
    } else {
      run = (await this.opts.state.listRuns(federation))[0];
      if (!run) throw TributaryError.notFound(`federation ${quoted(federation)} has no runs yet`);
    }
    const trackingRunId = await this.ensureTrackingRun(run);
    const tracked = await this.opts.store.getRun(trackingRunId);
    const series: MetricSeries__Output[] = [];
    if (tracked.data.metrics[key]) series.push({ site: '', points: await this.history(trackingRunId, key, limit) });
    const suffix = `/${key}`;
    const sites = Object.keys(tracked.data.metrics)
      .filter((k) => k.startsWith('site/') && k.endsWith(suffix) && k.length > 'site/'.length + suffix.length)
      .map((k) => k.slice('site/'.length, -suffix.length))
      .filter((site) => !site.includes('/'))
      .sort();
    for (const site of sites) series.push({ site, points: await this.history(trackingRunId, siteKey(site, key), limit) });
    return { runId: run.id, key, series };
  }

  // --- syncing ------------------------------------------------------------------------------

  private schedule(runId: string): void {
    if (this.stopped || this.pending.has(runId)) return;
    this.pending.add(runId);
    clearTimeout(this.retries.get(runId));
    this.retries.delete(runId);
    this.chain = this.chain.then(async () => {
      this.pending.delete(runId);
      try {
        await this.sync(runId);
      } catch (err) {
        // The state store or the outbox failed: nothing was enqueued, the next sync derives it again.
        this.log.warn({ runId, err: TributaryError.from(err).message }, 'run records not put in the tracking outbox yet; will retry');
        if (!this.stopped) {
          const timer = setTimeout(() => this.schedule(runId), this.opts.retryDelayMs ?? COORDINATOR_DEFAULTS.trackingRetryDelayMs);
          timer.unref?.();
          this.retries.set(runId, timer);
        }
      }
    });
  }

  /**
   * Puts the run's records that became final since its cursor in the outbox: its params the
   * first time, each final round, then its end. Reads only the state store and the outbox, so it
   * never waits for the tracking store.
   */
  private async sync(runId: string): Promise<void> {
    const { outbox } = this.opts;
    const run = await this.opts.state.getRun(runId);
    if (!run) return;
    const cursor = await outbox.cursor(runId);
    if (cursor?.ended) return;
    const writes: OutboxWrite[] = [];
    if (cursor === undefined) writes.push({ kind: 'params', runId, batch: { params: paramsOf(run) } });
    const terminal = run.status !== 'RUN_STATUS_RUNNING';
    let logged = cursor?.round ?? 0;
    const rounds = await this.opts.state.listRounds(runId);
    // listRounds returns rounds in ascending number order.
    for (const [i, round] of rounds.entries()) {
      if (round.number <= logged) continue;
      const later = i < rounds.length - 1;
      if (!isFinal(round, terminal || later)) break;
      const version = round.state === 'ROUND_STATE_COMMITTED' ? await this.opts.state.getModelVersion(run.federation, round.committedVersion) : undefined;
      const { metrics, tags } = roundRecords(round, version?.sha256 ?? '');
      tags.push({ key: LOGGED_ROUNDS_TAG, value: String(round.number) });
      writes.push({ kind: 'round', runId, round: round.number, batch: { metrics, tags } });
      logged = round.number;
    }
    const status = TRACKING_RUN_STATUS_OF[run.status];
    const ended = terminal && status !== undefined && logged >= (rounds.at(-1)?.number ?? 0);
    if (ended) {
      const tags = run.failureReason ? [{ key: 'tributary.failure_reason', value: clip(run.failureReason) }] : [];
      writes.push({ kind: 'end', runId, status, endTime: run.endedAtMs || Date.now(), batch: { tags } });
    }
    if (writes.length === 0) return;
    await outbox.enqueue(runId, writes, { round: logged, ended });
    this.observeOutbox();
    this.drain();
  }

  // --- delivering -----------------------------------------------------------------------------

  /** Starts delivering the outbox, unless a delivery runs or waits out a backoff. */
  private drain(): void {
    if (this.draining !== undefined) {
      // The delivery in flight may already have found the outbox empty: it starts again when it ends.
      this.drainAgain = true;
      return;
    }
    if (this.backoff !== undefined || this.halted) return;
    this.drainAgain = false;
    this.draining = this.deliverAll()
      .catch((err: unknown) => {
        // The outbox itself failed (closed, disk): the entries stay, the next drain tries again.
        if (!this.halted) {
          this.log.error({ err: TributaryError.from(err).message }, 'tracking outbox could not be read; will retry');
          this.retryLater();
        }
      })
      .finally(() => {
        this.draining = undefined;
        this.observeOutbox();
        if (this.drainAgain) this.drain();
        for (const wake of this.restWaiters.splice(0)) wake();
      });
  }

  /** Delivers entries in outbox order until it is empty or the store fails. */
  private async deliverAll(): Promise<void> {
    const { outbox } = this.opts;
    for (;;) {
      const entries = await outbox.head();
      outbox.noteHead(entries[0]);
      this.observeOutbox();
      if (entries.length === 0) return;
      for (const entry of entries) {
        if (this.halted) return;
        if (!(await this.deliver(entry))) {
          this.retryLater();
          return;
        }
      }
    }
  }

  /** One entry to the store; false when the store failed in a way worth retrying. */
  private async deliver(entry: OutboxEntry): Promise<boolean> {
    const { outbox, store } = this.opts;
    const write = entry.write;
    try {
      if (write.kind === 'deleteExperiment') {
        await this.markExperimentDeleted(write.federation);
      } else {
        const run = await this.opts.state.getRun(write.runId);
        if (!run) {
          await this.refused(entry, Reason.RUN_NOT_FOUND, `run ${quoted(write.runId)} no longer exists`);
          return true;
        }
        const trackingRunId = await this.ensureTrackingRun(run);
        if (write.batch.metrics?.length || write.batch.params?.length || write.batch.tags?.length) await store.logBatch(trackingRunId, write.batch);
        if (write.kind === 'end') await store.updateRun(trackingRunId, { status: write.status, endTime: write.endTime });
      }
    } catch (err) {
      const e = TributaryError.from(err);
      if (!isRefusal(e)) {
        this.failures += 1;
        this.lastError = `${e.reason}: ${e.message}`;
        this.log.warn({ ...subjectOf(write), kind: write.kind, failures: this.failures, err: e.message }, 'tracking store did not take the write; it stays in the outbox and is retried');
        return false;
      }
      await this.refused(entry, e.reason, e.message);
      if (write.kind === 'round') {
        // The run says its round's record is missing, so the next rounds and the status still land.
        // The cursor is the syncs' alone: a note leaves it as it is.
        await outbox.enqueue(write.runId, [{ kind: 'note', runId: write.runId, batch: { tags: [{ key: `tributary.round.${write.round}.tracking_dropped`, value: clip(`${e.reason}: ${e.message}`) }] } }], undefined);
      }
      return true;
    }
    await outbox.delivered(entry);
    this.failures = 0;
    this.lastError = undefined;
    return true;
  }

  /** Marks a federation's experiment deleted; one already deleted, or never created, is left as it is. */
  private async markExperimentDeleted(federation: string): Promise<void> {
    // Looked up afresh, and forgotten after: the deleted experiment takes no more runs.
    this.experimentIds.delete(federation);
    const experimentId = await this.findExperiment(federation);
    this.experimentIds.delete(federation);
    if (experimentId === undefined || (await this.opts.store.getExperiment(experimentId)).lifecycleStage !== 'active') return;
    await this.opts.store.deleteExperiment(experimentId);
    this.log.info({ federation, experimentId }, 'tracking experiment marked deleted');
  }

  /** A write the store refused for its data: recorded in the outbox's refused list, logged and counted; never retried. */
  private async refused(entry: OutboxEntry, reason: string, message: string): Promise<void> {
    const write = entry.write;
    this.log.error({ ...subjectOf(write), kind: write.kind, reason, err: message }, 'the tracking store refused a write; recorded, not retried');
    this.opts.metrics?.trackingWritesRefused.inc({ reason });
    await this.opts.outbox.refuse(entry, reason, message);
  }

  /** Capped exponential backoff: base x 2^(failures - 1), at most the cap. */
  private retryLater(): void {
    if (this.halted || this.backoff !== undefined) return;
    const base = this.opts.retryDelayMs ?? COORDINATOR_DEFAULTS.trackingRetryDelayMs;
    const cap = this.opts.retryMaxDelayMs ?? COORDINATOR_DEFAULTS.trackingRetryMaxDelayMs;
    const delay = Math.min(cap, base * 2 ** Math.min(30, Math.max(0, this.failures - 1)));
    this.backoff = setTimeout(() => {
      this.backoff = undefined;
      this.drain();
    }, delay);
    this.backoff.unref?.();
  }

  private observeOutbox(): void {
    this.opts.metrics?.trackingOutboxDepth.set(this.opts.outbox.depth);
  }

  /** Resolves once no delivery runs (the outbox is empty or waits out a backoff). */
  private async atRest(): Promise<void> {
    while (this.draining !== undefined) await new Promise<void>((resolve) => this.restWaiters.push(resolve));
  }

  /** The tracking run of a Tributary run, created with its params and tags the first time. */
  private ensureTrackingRun(run: RunRecord): Promise<string> {
    let pending = this.trackingRunIds.get(run.id);
    if (!pending) {
      pending = this.findOrCreateTrackingRun(run);
      this.trackingRunIds.set(run.id, pending);
      // A failure is not remembered: the next call tries again.
      pending.catch(() => this.trackingRunIds.delete(run.id));
    }
    return pending;
  }

  private async findOrCreateTrackingRun(run: RunRecord): Promise<string> {
    const experimentId = await this.ensureExperiment(run.federation);
    const found = await this.opts.store.searchRuns({ experimentIds: [experimentId], filter: `tags."${RUN_ID_TAG}" = '${run.id}'`, maxResults: 1 });
    let trackingRunId = found.runs[0]?.info.runId;
    if (!trackingRunId) {
      const created = await this.opts.store.createRun({
        experimentId,
        runName: `${run.federation}-${run.id}`,
        startTime: run.startedAtMs,
        tags: {
          [RUN_ID_TAG]: run.id,
          'tributary.federation': run.federation,
          'tributary.start_version': String(run.startVersion),
          'mlflow.source.name': 'tributary',
          'mlflow.source.type': 'JOB',
        },
      });
      // Its params are the run's first outbox entry.
      trackingRunId = created.info.runId;
    }
    return trackingRunId;
  }

  private async ensureExperiment(federation: string): Promise<string> {
    const known = this.experimentIds.get(federation) ?? (await this.findExperiment(federation));
    if (known) return known;
    let id: string;
    try {
      id = await this.opts.store.createExperiment(federation, { 'tributary.federation': federation });
    } catch (err) {
      // Another coordinator (or an earlier attempt) created it meanwhile.
      id = (await this.findExperiment(federation)) ?? '';
      if (!id) throw err;
    }
    this.experimentIds.set(federation, id);
    return id;
  }

  private async findExperiment(federation: string): Promise<string | undefined> {
    const known = this.experimentIds.get(federation);
    if (known) return known;
    try {
      const experiment = await this.opts.store.getExperimentByName(federation);
      this.experimentIds.set(federation, experiment.experimentId);
      return experiment.experimentId;
    } catch (err) {
      if (isResourceDoesNotExist(err)) return undefined;
      throw err;
    }
  }

  /**
   * A series thinned to at most `limit` points while it is read: memory stays at 2 x limit
   * whatever the history's length (keep every k-th point, doubling k whenever the buffer fills).
   */
  private async history(trackingRunId: string, key: string, limit: number): Promise<MetricPoint__Output[]> {
    let kept: MetricPoint__Output[] = [];
    let stride = 1;
    let seen = 0;
    let last: MetricPoint__Output | undefined;
    let pageToken: string | undefined;
    do {
      const page = await this.opts.store.getMetricHistory(trackingRunId, key, { maxResults: 10_000, ...(pageToken ? { pageToken } : {}) });
      for (const m of page.metrics) {
        last = { key, value: m.value, timestampMs: m.timestamp, step: m.step };
        if (seen++ % stride === 0) kept.push(last);
        if (kept.length >= 2 * limit) {
          kept = kept.filter((_, i) => i % 2 === 0);
          stride *= 2;
        }
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    if (kept.length > limit) {
      const step = kept.length / limit;
      kept = Array.from({ length: limit - 1 }, (_, i) => kept[Math.floor(i * step)] as MetricPoint__Output);
    }
    if (last && kept.at(-1) !== last) {
      if (kept.length >= limit) kept.pop();
      kept.push(last);
    }
    return kept;
  }

  private async requireRun(runId: string): Promise<RunRecord> {
    const run = await this.opts.state.getRun(runId);
    if (!run) throw TributaryError.notFound(`run ${quoted(runId)} does not exist`);
    return run;
  }
}

/** What a write is about, for its log lines: its run (and round), or its federation. */
function subjectOf(write: OutboxWrite): Record<string, string | number> {
  if (write.kind === 'deleteExperiment') return { federation: write.federation };
  return write.kind === 'round' ? { runId: write.runId, round: write.round } : { runId: write.runId };
}

/** A round is logged once nothing more will be added to it. */
function isFinal(round: RoundRecord, movedOn: boolean): boolean {
  if (round.state === 'ROUND_STATE_FAILED') return true;
  if (round.state !== 'ROUND_STATE_COMMITTED') return false;
  return round.evaluation !== 'EVALUATION_STATE_PENDING' || movedOn;
}

/** What a final round logs: metrics at step = round number, lineage and failures as tags. */
function roundRecords(round: RoundRecord, modelSha256: string): { metrics: MetricInput[]; tags: TrackingRunTag[] } {
  const at = round.closedAtMs || Date.now();
  const step = round.number;
  const m = (key: string, value: number): MetricInput => ({ key, value, timestamp: at, step });
  const metrics: MetricInput[] = [
    m('round_duration_seconds', round.closedAtMs > 0 ? (round.closedAtMs - round.openedAtMs) / 1000 : 0),
    m('sites_selected', round.selectedSites.length),
    m('sites_accepted', round.accepted.length),
    m('sites_refused', totalRefusals(round.refused)),
    m('bytes_received', round.bytesReceived),
    m('round_failed', round.state === 'ROUND_STATE_FAILED' ? 1 : 0),
  ];
  const byReason = new Map<string, number>();
  for (const r of round.refused) byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + refusalCount(r));
  for (const [reason, count] of byReason) metrics.push(m(`refused/${reason}`, count));
  // Only rounds where a site failed log these, so other rounds' records stay as they were.
  const failures = round.siteFailures ?? [];
  if (failures.length > 0) metrics.push(m('sites_failed', failures.length));
  for (const [key, value] of Object.entries(round.metrics)) metrics.push(m(key, value));
  const tags: TrackingRunTag[] = [];
  const prefix = `tributary.round.${round.number}`;
  if (round.state === 'ROUND_STATE_COMMITTED') {
    metrics.push(m('model_version', round.committedVersion));
    tags.push({ key: 'tributary.model_version', value: String(round.committedVersion) });
    tags.push({ key: 'tributary.model_sha256', value: modelSha256 });
    const lineage = {
      version: round.committedVersion,
      sha256: modelSha256,
      parent: round.baseVersion,
      contributions: round.accepted.map((u) => ({
        site: u.site,
        update_id: u.updateId,
        sha256: u.payloadSha256,
        num_examples: u.numExamples,
        ...(u.datasets.length > 0 ? { datasets: u.datasets.map((d) => ({ name: d.name, digest: d.digest, rows: d.rows, context: d.context })) } : {}),
        ...(Object.keys(u.context).length > 0 ? { context: u.context } : {}),
      })),
    };
    tags.push({ key: `${prefix}.lineage`, value: lineageTag(lineage) });
  } else {
    tags.push({ key: `${prefix}.failure`, value: clip(round.failureReason) });
  }
  return { metrics, tags };
}

/** The federation settings a run was started with, as immutable params. */
function paramsOf(run: RunRecord): Param[] {
  const s = run.settings;
  const params: Param[] = [
    { key: 'federation', value: run.federation },
    { key: 'rounds', value: String(run.rounds) },
    { key: 'start_version', value: String(run.startVersion) },
  ];
  if (!s) return params;
  params.push(
    { key: 'strategy', value: s.strategy },
    { key: 'min_sites', value: String(s.minSites) },
    { key: 'sample_fraction', value: String(s.sampleFraction) },
    { key: 'sample_count', value: String(s.sampleCount) },
    { key: 'round_deadline_seconds', value: String(s.roundDeadlineSeconds) },
    { key: 'on_round_failure', value: s.onRoundFailure.replace('ROUND_FAILURE_POLICY_', '').toLowerCase() },
    { key: 'evaluate_every', value: String(s.evaluateEvery) },
    { key: 'norm_bound', value: String(s.normBound) },
    { key: 'norm_bound_mode', value: s.normBoundMode || 'refuse' },
    { key: 'max_examples', value: String(s.maxExamples || SETTINGS_DEFAULTS.maxExamples) },
    { key: 'on_site_error', value: s.onSiteError || SETTINGS_DEFAULTS.onSiteError },
    { key: 'site_idle_timeout_seconds', value: String(s.siteIdleTimeoutSeconds ?? 0) },
    { key: 'upload_grace_seconds', value: String(s.uploadGraceSeconds ?? 0) },
    { key: 'run_timeout_seconds', value: String(s.runTimeoutSeconds ?? 0) },
  );
  for (const [k, v] of Object.entries(s.strategyOptions)) params.push({ key: `strategy.${k}`, value: v });
  return params;
}

/**
 * Lineage as a JSON tag within MLflow's 5000 characters: whole when it fits, else without the
 * per-site datasets and context, else the digests of as many contributions as fit (the model
 * version in the state store always has the whole lineage).
 */
function lineageTag(lineage: { version: number; sha256: string; parent: number; contributions: Array<Record<string, unknown>> }): string {
  const full = JSON.stringify(lineage);
  if (full.length <= MAX_TAG_CHARS) return full;
  const slim = lineage.contributions.map((c) => ({ site: c['site'], update_id: c['update_id'], sha256: c['sha256'], num_examples: c['num_examples'] }));
  const withoutMetadata = JSON.stringify({ ...lineage, contributions: slim });
  if (withoutMetadata.length <= MAX_TAG_CHARS) return withoutMetadata;
  let kept = slim.length;
  for (;;) {
    kept = Math.floor(kept / 2);
    const partial = JSON.stringify({ ...lineage, contributions: slim.slice(0, kept), contributions_total: slim.length });
    if (partial.length <= MAX_TAG_CHARS || kept === 0) return partial;
  }
}

/** The store refused the data itself: the same write would be refused again. */
function isRefusal(e: TributaryError): boolean {
  return STORE_REFUSALS.has(e.code) || REFUSAL_REASONS.has(e.reason);
}

function siteKey(site: string, key: string): string {
  return `site/${site}/${key}`;
}

function clip(text: string): string {
  return text.length <= MAX_TAG_CHARS ? text : `${text.slice(0, MAX_TAG_CHARS - 1)}…`;
}

