import type { TrackedRun__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { nameArg, optInteger, optList, optString } from '../../input.js';
import { formatNumber, formatTime, table } from '../../render.js';

export interface SearchInput {
  readonly federation: string;
  readonly filter: string | undefined;
  readonly orderBy: readonly string[];
  readonly maxResults: number | undefined;
  readonly pageToken: string | undefined;
  readonly metrics: readonly string[];
}

export interface SearchResult {
  readonly runs: TrackedRun__Output[];
  /** Pass as --page-token for the next page; empty on the last one. */
  readonly nextPageToken: string;
  /** The metrics shown as columns. */
  readonly metricColumns: string[];
}

/** Metrics every round logs about itself; not what a reader of a search wants first. */
const BOOKKEEPING = new Set(['round_duration_seconds', 'sites_selected', 'sites_accepted', 'sites_refused', 'sites_failed', 'bytes_received', 'round_failed', 'model_version']);
const MAX_DEFAULT_COLUMNS = 4;
/** `metrics.accuracy`, `metrics."val loss"`, metrics.`val loss` in a filter or an order-by clause. */
const METRIC_REFERENCE = /\bmetrics?\.(?:"([^"]+)"|`([^`]+)`|([\w./-]+))/g;

export default defineCommand({
  path: ['run', 'search'],
  aliases: [['runs', 'search']],
  summary: "Search a federation's runs in the tracking store (MLflow filter and order-by syntax)",
  args: [['<federation>', 'federation name']],
  connects: true,
  options(cmd) {
    cmd
      .option('--filter <expr>', `e.g. "metrics.accuracy > 0.9 and params.strategy = 'fedavg'"`)
      .option('--order-by <clause>', 'e.g. "metrics.accuracy DESC" (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
      .option('--max-results <n>', 'runs per page, 1 to 1000 (default 100)')
      .option('--page-token <token>', 'next page of an earlier search')
      .option('--metric <key>', 'show this metric as a column (repeatable; default: those in --filter and --order-by)', (v: string, prev: string[] = []) => [...prev, v]);
  },
  parse(raw): SearchInput {
    return {
      federation: nameArg(raw, 0, 'federation'),
      filter: optString(raw, 'filter'),
      orderBy: optList(raw, 'orderBy'),
      maxResults: optInteger(raw, 'maxResults', '--max-results', 1, 1000),
      pageToken: optString(raw, 'pageToken'),
      metrics: optList(raw, 'metric'),
    };
  },
  async run(input, ctx): Promise<SearchResult> {
    const page = await (await ctx.admin()).searchRuns(input.federation, {
      ...(input.filter === undefined ? {} : { filter: input.filter }),
      orderBy: input.orderBy,
      ...(input.maxResults === undefined ? {} : { maxResults: input.maxResults }),
      ...(input.pageToken === undefined ? {} : { pageToken: input.pageToken }),
    });
    return { runs: page.runs, nextPageToken: page.nextPageToken, metricColumns: metricColumns(input, page.runs) };
  },
  render: renderSearch,
});

/**
 * The metrics to show: those asked for, else those the filter and ordering name, else the
 * first few the runs share that are not per-site or round bookkeeping.
 */
export function metricColumns(input: Pick<SearchInput, 'filter' | 'orderBy' | 'metrics'>, runs: readonly TrackedRun__Output[]): string[] {
  if (input.metrics.length > 0) return [...new Set(input.metrics)];
  const referenced = [input.filter ?? '', ...input.orderBy].flatMap((text) =>
    [...text.matchAll(METRIC_REFERENCE)].map((m) => m[1] ?? m[2] ?? m[3] ?? ''),
  );
  if (referenced.length > 0) return [...new Set(referenced.filter((k) => k !== ''))];
  const counts = new Map<string, number>();
  for (const run of runs) {
    for (const key of Object.keys(run.metrics)) {
      if (key.startsWith('site/') || key.startsWith('refused/') || BOOKKEEPING.has(key)) continue;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, MAX_DEFAULT_COLUMNS)
    .map(([key]) => key);
}

export function renderSearch(result: SearchResult): string {
  if (result.runs.length === 0) return 'No runs match.';
  const rows = result.runs.map((r) => [
    r.runId || r.trackingRunId,
    r.status,
    formatTime(r.startTimeMs),
    ...result.metricColumns.map((k) => {
      const v = r.metrics[k];
      return v === undefined ? '-' : formatNumber(v);
    }),
  ]);
  const text = table(['RUN', 'STATUS', 'STARTED', ...result.metricColumns], rows);
  return result.nextPageToken === '' ? text : `${text}\n\nMore runs: --page-token ${result.nextPageToken}`;
}
