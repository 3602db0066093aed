import { encodeMetricValue, type GetMetricHistoryResponse__Output, type JsonMetricValue, type MetricSeries__Output } from '@tributary/proto';
import { UsageError } from '../../errors.js';
import { defineCommand } from '../../command.js';
import { nameArg, optInteger, optString } from '../../input.js';
import { formatNumber, table } from '../../render.js';

export interface ShowInput {
  readonly federation: string;
  readonly key: string;
  readonly runId: string | undefined;
  readonly width: number;
}

/** One series of a metric, summarised: the run's own (`site` empty) or a site's. */
export interface SeriesSummary {
  readonly site: string;
  readonly points: number;
  readonly firstStep: number | null;
  readonly lastStep: number | null;
  /** Values at the first and last point (by step, then time). */
  readonly first: JsonMetricValue | null;
  readonly last: JsonMetricValue | null;
  /** Over the values that are not NaN. */
  readonly min: JsonMetricValue | null;
  readonly max: JsonMetricValue | null;
  /** The series squeezed to at most `width` means of consecutive points (null: no finite value there). */
  readonly trend: (number | null)[];
}

export interface ShowResult {
  readonly federation: string;
  readonly runId: string;
  readonly key: string;
  readonly series: SeriesSummary[];
}

/** The eight levels of a terminal sparkline, lowest first. */
export const SPARK_LEVELS = '▁▂▃▄▅▆▇█';
const DEFAULT_WIDTH = 40;

export default defineCommand({
  path: ['metric', 'show'],
  aliases: [['metrics', 'show']],
  summary: "Summarise a metric of a run: a row per site (and the run's own series) with a sparkline",
  args: [['<federation>', 'federation name']],
  connects: true,
  options(cmd) {
    cmd
      .option('--metric <key>', 'metric key, e.g. loss (required)')
      .option('--run <id>', "run id (default: the federation's latest run)")
      .option('--width <n>', `sparkline width in characters (default ${DEFAULT_WIDTH})`);
  },
  parse(raw): ShowInput {
    const key = optString(raw, 'metric');
    if (key === undefined || key === '') throw new UsageError('--metric is required', 'e.g. tributary metric show churn --metric loss');
    return {
      federation: nameArg(raw, 0, 'federation'),
      key,
      runId: optString(raw, 'run'),
      width: optInteger(raw, 'width', '--width', 4, 400) ?? DEFAULT_WIDTH,
    };
  },
  async run(input, ctx): Promise<ShowResult> {
    const history = await (await ctx.admin()).getMetricHistory(input.federation, input.key, input.runId === undefined ? {} : { runId: input.runId });
    return summariseHistory(input.federation, history, input.width);
  },
  render: renderShow,
});

export function summariseHistory(federation: string, history: GetMetricHistoryResponse__Output, width = DEFAULT_WIDTH): ShowResult {
  return { federation, runId: history.runId, key: history.key, series: history.series.map((s) => summariseSeries(s, width)) };
}

export function summariseSeries(series: MetricSeries__Output, width = DEFAULT_WIDTH): SeriesSummary {
  const values = series.points.map((p) => p.value);
  let min = Infinity;
  let max = -Infinity;
  let numbers = 0;
  for (const v of values) {
    if (Number.isNaN(v)) continue;
    numbers += 1;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const first = series.points[0];
  const last = series.points.at(-1);
  return {
    site: series.site,
    points: series.points.length,
    firstStep: first?.step ?? null,
    lastStep: last?.step ?? null,
    first: first === undefined ? null : encodeMetricValue(first.value),
    last: last === undefined ? null : encodeMetricValue(last.value),
    min: numbers === 0 ? null : encodeMetricValue(min),
    max: numbers === 0 ? null : encodeMetricValue(max),
    trend: downsample(values, width),
  };
}

/**
 * At most `width` values: the means of consecutive, equal shares of the series (each value its
 * own when the series is short). NaN and infinities are left out of the means; a share without
 * any finite value is null.
 */
export function downsample(values: readonly number[], width: number): (number | null)[] {
  const n = values.length;
  const buckets = Math.min(n, Math.max(1, Math.floor(width)));
  const out: (number | null)[] = [];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor((b * n) / buckets);
    const to = Math.floor(((b + 1) * n) / buckets);
    let sum = 0;
    let count = 0;
    for (let i = from; i < to; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) continue;
      sum += v;
      count += 1;
    }
    out.push(count === 0 ? null : sum / count);
  }
  return out;
}

/** `▁▃▅█`: each value's height between the lowest and the highest; a gap for null; mid-height when all are equal. */
export function sparkline(values: readonly (number | null)[]): string {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (finite.length === 0) return ' '.repeat(values.length);
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const top = SPARK_LEVELS.length - 1;
  return values
    .map((v) => {
      if (v === null || !Number.isFinite(v)) return ' ';
      const level = hi === lo ? Math.floor(top / 2) : Math.round(((v - lo) / (hi - lo)) * top);
      return SPARK_LEVELS[level] ?? ' ';
    })
    .join('');
}

export function renderShow(result: ShowResult): string {
  const title = `Metric "${result.key}" of run ${result.runId} (federation ${result.federation})`;
  if (result.series.every((s) => s.points === 0)) return `${title}: no points yet.`;
  const cell = (v: JsonMetricValue | null): string => (v === null ? '-' : typeof v === 'number' ? formatNumber(v) : v);
  const rows = result.series.map((s) => [
    s.site === '' ? '(run)' : s.site,
    String(s.points),
    s.firstStep === null ? '-' : `${s.firstStep}..${s.lastStep ?? s.firstStep}`,
    cell(s.first),
    cell(s.last),
    cell(s.min),
    cell(s.max),
    sparkline(s.trend),
  ]);
  return `${title}\n\n${table(['SITE', 'POINTS', 'STEPS', 'FIRST', 'LAST', 'MIN', 'MAX', 'TREND'], rows)}`;
}
