import {
  Reason,
  TributaryError,
  assertName,
  type GetMetricHistoryResponse__Output,
  type MetricEvent__Output,
  type SearchRunsResponse__Output,
  type WatchMetricsRequest__Output,
  quoted,
} from '@tributary/proto';
import type { MetricEventBus } from '../ingest/metric-events.js';
import type { StateStore } from '../state/index.js';
import type { RunTracker } from '../tracking/run-tracker.js';
import { validateMetricKey } from '../tracking/validation.js';
import { AsyncQueue } from './async-queue.js';
import type { CallContext, ServiceHandlers } from './call.js';

export interface MetricsServiceDeps {
  state: StateStore;
  tracker: Pick<RunTracker, 'metricHistory' | 'searchTrackingRuns'>;
  bus: MetricEventBus;
}

/** SearchRuns pages hold at most this many runs. */
export const MAX_SEARCH_RESULTS = 1000;
const DEFAULT_SEARCH_RESULTS = 100;
/** Bounds on what a request may carry. */
const MAX_FILTER_CHARS = 10_000;
const MAX_ORDER_BY = 20;
const MAX_WATCHED_KEYS = 100;
/**
 * Batches a watcher may fall behind by before its stream ends with RESOURCE_EXHAUSTED, so a
 * slow client cannot make the coordinator hold an ever-growing backlog.
 */
const MAX_WATCH_BACKLOG = 10_000;
const RUN_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * AdminService's metric methods: WatchMetrics (live points from sites), GetMetricHistory and
 * SearchRuns (the tracking store). Each needs read on its federation (admin-access.ts).
 */
export function metricsService(deps: MetricsServiceDeps): Pick<ServiceHandlers<'AdminService'>, 'GetMetricHistory' | 'SearchRuns' | 'WatchMetrics'> {
  const requireFederation = async (name: string): Promise<string> => {
    assertName('federation', name);
    if ((await deps.state.getFederation(name)) === undefined) throw TributaryError.notFound(`federation ${quoted(name)} does not exist`);
    return name;
  };
  return {
    GetMetricHistory: async (req): Promise<GetMetricHistoryResponse__Output> => {
      const federation = await requireFederation(req.federation);
      if (req.runId !== '') checkRunId(req.runId);
      if (req.key === '') throw TributaryError.invalidArgument('key is required, e.g. "loss"');
      const key = validateMetricKey(req.key);
      return deps.tracker.metricHistory(federation, req.runId, key, req.maxPoints);
    },
    SearchRuns: async (req): Promise<SearchRunsResponse__Output> => {
      const federation = await requireFederation(req.federation);
      if (req.maxResults > MAX_SEARCH_RESULTS) throw TributaryError.invalidArgument(`max_results is ${req.maxResults}; at most ${MAX_SEARCH_RESULTS}`);
      if (req.filter.length > MAX_FILTER_CHARS) throw TributaryError.invalidArgument(`filter is longer than ${MAX_FILTER_CHARS} characters`);
      if (req.orderBy.length > MAX_ORDER_BY) throw TributaryError.invalidArgument(`more than ${MAX_ORDER_BY} order_by clauses`);
      return deps.tracker.searchTrackingRuns(federation, {
        ...(req.filter === '' ? {} : { filter: req.filter }),
        ...(req.orderBy.length === 0 ? {} : { orderBy: [...req.orderBy] }),
        maxResults: req.maxResults === 0 ? DEFAULT_SEARCH_RESULTS : req.maxResults,
        ...(req.pageToken === '' ? {} : { pageToken: req.pageToken }),
      });
    },
    WatchMetrics: (req, ctx) => {
      assertName('federation', req.federation);
      if (req.runId !== '') checkRunId(req.runId);
      if (req.keys.length > MAX_WATCHED_KEYS) throw TributaryError.invalidArgument(`more than ${MAX_WATCHED_KEYS} keys`);
      for (const key of req.keys) validateMetricKey(key);
      return watchMetrics(req, ctx, deps, requireFederation);
    },
  };
}

type Watched = { event: MetricEvent__Output } | { overflow: true };

async function* watchMetrics(
  req: WatchMetricsRequest__Output,
  ctx: CallContext,
  deps: MetricsServiceDeps,
  requireFederation: (name: string) => Promise<string>,
): AsyncIterable<MetricEvent__Output> {
  const keys = req.keys.length === 0 ? undefined : new Set(req.keys);
  const queue = new AsyncQueue<Watched>();
  let backlog = 0;
  let overflowed = false;
  // Subscribed before the checks, so nothing committed after the call began is missed.
  const unsubscribe = deps.bus.subscribe(req.federation, (event) => {
    if (overflowed || (req.runId !== '' && event.runId !== req.runId)) return;
    const points = keys === undefined ? event.points : event.points.filter((p) => keys.has(p.key));
    if (points.length === 0) return;
    if (++backlog > MAX_WATCH_BACKLOG) {
      overflowed = true;
      queue.push({ overflow: true });
      return;
    }
    queue.push({ event: points === event.points ? event : { ...event, points } });
  });
  try {
    await requireFederation(req.federation);
    if (req.runId !== '') {
      const run = await deps.state.getRun(req.runId);
      if (run === undefined || run.federation !== req.federation) {
        throw TributaryError.notFound(`run ${quoted(req.runId)} of federation ${quoted(req.federation)} does not exist`);
      }
    }
    for (;;) {
      const item = await queue.next(ctx.signal);
      if (item === undefined) return;
      if ('overflow' in item) {
        throw TributaryError.of(Reason.RESOURCE_EXHAUSTED, `the watcher fell more than ${MAX_WATCH_BACKLOG} batches behind; watch again, or narrow it to a run or keys`);
      }
      backlog--;
      yield item.event;
    }
  } finally {
    unsubscribe();
  }
}

function checkRunId(runId: string): void {
  if (!RUN_ID.test(runId)) throw TributaryError.invalidArgument(`invalid run id ${quoted(runId)}`);
}

