import { Backoff, DEFAULT_BACKOFF_POLICY, Reason, TributaryError, encodeMetricValue, sleep, type JsonMetricValue } from '@tributary/proto';
import type { MetricEvent__Output, MetricPoint__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { collect, nameArg, optList, optString } from '../../input.js';
import { plural } from '../../render.js';

export interface TailInput {
  readonly federation: string;
  readonly runId: string | undefined;
  readonly keys: readonly string[];
}

export interface TailResult {
  /** Points printed before the tail was stopped. */
  readonly points: number;
  /** Batches (site, run, round) they came in. */
  readonly batches: number;
}

/** Point tails in JSON: one object per line. Metric values NaN and ±Infinity as MLflow's JSON words. */
export interface PointRecord {
  readonly time: string;
  readonly timestampMs: number;
  readonly federation: string;
  readonly runId: string;
  readonly round: number;
  readonly site: string;
  readonly key: string;
  readonly step: number;
  readonly value: JsonMetricValue;
  readonly storedAtMs: number;
}

const HELP = `
Prints one line per point as the coordinator stores it: time (UTC), site, key, step, value.
Stops on Ctrl-C.

With --json, prints one JSON object per point and line (ndjson):
  {"time":"2024-05-01T12:00:00.123Z","timestampMs":...,"federation":"...","runId":"...","round":1,
   "site":"...","key":"loss","step":12,"value":0.25,"storedAtMs":...}
NaN and infinite values are the strings "NaN", "Infinity" and "-Infinity". After Ctrl-C the last
line is the envelope {"ok":true,"result":{"points":N,"batches":M}}.`;

export default defineCommand({
  path: ['metric', 'tail'],
  aliases: [['metrics', 'tail']],
  summary: 'Follow the metric points sites stream, live, until interrupted',
  args: [['<federation>', 'federation name']],
  connects: true,
  handlesInterrupt: true,
  options(cmd) {
    cmd
      .option('--run <id>', 'only points of this run')
      .option('--metric <key>', 'only this metric key (repeatable, or comma-separated)', collect)
      .addHelpText('after', HELP);
  },
  parse(raw): TailInput {
    const runId = optString(raw, 'run');
    return { federation: nameArg(raw, 0, 'federation'), runId, keys: optList(raw, 'metric') };
  },
  async run(input, ctx): Promise<TailResult> {
    const admin = await ctx.admin();
    const write = ctx.json
      ? (event: MetricEvent__Output, p: MetricPoint__Output) => void process.stdout.write(`${JSON.stringify(pointRecord(event, p))}\n`)
      : (event: MetricEvent__Output, p: MetricPoint__Output) => ctx.progress.line(pointLine(event, p));
    let points = 0;
    let batches = 0;
    const backoff = new Backoff({ policy: DEFAULT_BACKOFF_POLICY });
    for (;;) {
      // The stream ended (coordinator shutting down) or dropped: follow again.
      let failure = TributaryError.of(Reason.UNAVAILABLE, 'the metric stream ended');
      try {
        const events = admin.watchMetrics(input.federation, {
          ...(input.runId === undefined ? {} : { runId: input.runId }),
          keys: input.keys,
          signal: ctx.signal,
        });
        for await (const event of events) {
          backoff.reset();
          batches += 1;
          for (const p of event.points) write(event, p);
          points += event.points.length;
        }
      } catch (err) {
        if (ctx.signal.aborted) return { points, batches };
        failure = TributaryError.from(err);
      }
      if (ctx.signal.aborted) return { points, batches };
      const delayMs = backoff.retryDelay(failure);
      if (delayMs === undefined) throw failure;
      try {
        await sleep(delayMs, ctx.signal);
      } catch {
        return { points, batches };
      }
    }
  },
  render(result) {
    return `Stopped after ${plural(result.points, 'point')} in ${result.batches} ${result.batches === 1 ? 'batch' : 'batches'}.`;
  },
});

/** `2024-05-01 12:00:00.123Z  site-a  loss  step 12  0.25` */
export function pointLine(event: MetricEvent__Output, p: MetricPoint__Output): string {
  return `${formatMillis(p.timestampMs)}  ${event.site}  ${p.key}  step ${p.step}  ${formatValue(p.value)}`;
}

export function pointRecord(event: MetricEvent__Output, p: MetricPoint__Output): PointRecord {
  return {
    time: new Date(p.timestampMs).toISOString(),
    timestampMs: p.timestampMs,
    federation: event.federation,
    runId: event.runId,
    round: event.round,
    site: event.site,
    key: p.key,
    step: p.step,
    value: encodeMetricValue(p.value),
    storedAtMs: event.storedAtMs,
  };
}

/** UTC time to the millisecond. */
function formatMillis(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ');
}

/** Up to 6 significant digits; integers, NaN and infinities as they are. */
export function formatValue(v: number): string {
  return Number.isInteger(v) || !Number.isFinite(v) ? String(v) : String(Number(v.toPrecision(6)));
}
