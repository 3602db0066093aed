import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import type { MetricEvent__Output, TrackedRun__Output } from '@tributary/proto';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../coordinator/src/cli/commands/index.js';
import { downsample, renderShow, sparkline, summariseHistory } from '../../coordinator/src/cli/commands/metric/show.js';
import { pointLine, pointRecord } from '../../coordinator/src/cli/commands/metric/tail.js';
import { metricColumns, renderSearch } from '../../coordinator/src/cli/commands/run/search.js';
import { runCli } from '../../coordinator/src/cli/runner.js';

const series = (site: string, values: number[]) => ({
  site,
  points: values.map((value, step) => ({ key: 'loss', value, timestampMs: 1_700_000_000_000 + step, step })),
});

describe('sparkline', () => {
  it('draws the lowest value with the lowest bar and the highest with the full block', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([7, 0])).toBe('█▁');
  });

  it('scales to the range of the values, not to zero', () => {
    expect(sparkline([100, 100.5, 101])).toBe('▁▅█');
  });

  it('draws a flat series at mid-height and leaves gaps where there is no finite value', () => {
    expect(sparkline([2, 2, 2])).toBe('▄▄▄');
    expect(sparkline([0, null, 1])).toBe('▁ █');
    expect(sparkline([null, null])).toBe('  ');
    expect(sparkline([])).toBe('');
  });
});

describe('downsample', () => {
  it('keeps a short series as it is', () => {
    expect(downsample([3, 1, 2], 40)).toEqual([3, 1, 2]);
  });

  it('squeezes a long series into means of equal shares', () => {
    expect(downsample([1, 3, 5, 7, 9, 11], 3)).toEqual([2, 6, 10]);
    expect(downsample(Array.from({ length: 1000 }, (_, i) => i), 40)).toHaveLength(40);
  });

  it('leaves NaN and infinities out of the means', () => {
    expect(downsample([1, NaN, Infinity, 3], 2)).toEqual([1, 3]);
    expect(downsample([NaN, NaN, 5, 5], 2)).toEqual([null, 5]);
  });
});

describe('metric show', () => {
  const history = {
    runId: 'r1',
    key: 'loss',
    series: [series('', [0.9, 0.5]), series('alpha', [1, 0.8, 0.6, 0.4]), series('beta', [NaN, 2, 1])],
  };

  it('summarises each series: points, steps, first, last, min and max', () => {
    const result = summariseHistory('churn', history);
    expect(result.series[1]).toMatchObject({ site: 'alpha', points: 4, firstStep: 0, lastStep: 3, first: 1, last: 0.4, min: 0.4, max: 1 });
    expect(result.series[2]).toMatchObject({ site: 'beta', first: 'NaN', last: 1, min: 1, max: 2 });
  });

  it('prints a row per site, the run itself first, with a sparkline', () => {
    expect(renderShow(summariseHistory('churn', history))).toBe(
      [
        'Metric "loss" of run r1 (federation churn)',
        '',
        'SITE   POINTS  STEPS  FIRST  LAST  MIN  MAX  TREND',
        '(run)  2       0..1   0.9    0.5   0.5  0.9  █▁',
        'alpha  4       0..3   1      0.4   0.4  1    █▆▃▁',
        'beta   3       0..2   NaN    1     1    2     █▁',
      ].join('\n'),
    );
  });

  it('says so when the metric has no points', () => {
    expect(renderShow(summariseHistory('churn', { runId: 'r1', key: 'loss', series: [] }))).toBe('Metric "loss" of run r1 (federation churn): no points yet.');
  });
});

describe('metric tail', () => {
  const event: MetricEvent__Output = { federation: 'churn', runId: 'r1', round: 2, site: 'alpha', points: [], storedAtMs: 1_700_000_000_500 };

  it('prints a point as time, site, key, step and value', () => {
    expect(pointLine(event, { key: 'loss', value: 0.123456789, timestampMs: 1_700_000_000_123, step: 12 })).toBe('2023-11-14 22:13:20.123Z  alpha  loss  step 12  0.123457');
  });

  it('gives each point a JSON line, with NaN and infinities as MLflow writes them', () => {
    const record = pointRecord(event, { key: 'loss', value: NaN, timestampMs: 1_700_000_000_123, step: 3 });
    expect(JSON.parse(JSON.stringify(record))).toEqual({
      time: '2023-11-14T22:13:20.123Z',
      timestampMs: 1_700_000_000_123,
      federation: 'churn',
      runId: 'r1',
      round: 2,
      site: 'alpha',
      key: 'loss',
      step: 3,
      value: 'NaN',
      storedAtMs: 1_700_000_000_500,
    });
    expect(pointRecord(event, { key: 'x', value: -Infinity, timestampMs: 0, step: 0 }).value).toBe('-Infinity');
  });
});

describe('run search', () => {
  const run = (runId: string, metrics: Record<string, number>): TrackedRun__Output => ({
    trackingRunId: `t-${runId}`,
    runId,
    name: runId,
    status: 'FINISHED',
    startTimeMs: 1_700_000_000_000,
    endTimeMs: 1_700_000_100_000,
    metrics,
    params: {},
    tags: {},
  });
  const runs = [
    run('r2', { accuracy: 0.93, loss: 0.2, sites_selected: 3, 'site/alpha/loss': 0.1, model_version: 4 }),
    run('r1', { accuracy: 0.91, loss: 0.3, sites_selected: 3, model_version: 3 }),
  ];

  it('shows the metrics the filter and ordering name', () => {
    expect(metricColumns({ filter: 'metrics.accuracy > 0.9 and params.strategy = \'fedavg\'', orderBy: ['metrics.`val loss` DESC'], metrics: [] }, runs)).toEqual(['accuracy', 'val loss']);
  });

  it('shows the metrics asked for, else the training metrics the runs share', () => {
    expect(metricColumns({ filter: 'metrics.accuracy > 0.9', orderBy: [], metrics: ['loss'] }, runs)).toEqual(['loss']);
    expect(metricColumns({ filter: undefined, orderBy: [], metrics: [] }, runs)).toEqual(['accuracy', 'loss']);
  });

  it('prints a table of runs and the token of the next page', () => {
    expect(renderSearch({ runs, nextPageToken: 'abc', metricColumns: ['accuracy', 'f1'] })).toBe(
      [
        'RUN  STATUS    STARTED               accuracy  f1',
        'r2   FINISHED  2023-11-14 22:13:20Z  0.93      -',
        'r1   FINISHED  2023-11-14 22:13:20Z  0.91      -',
        '',
        'More runs: --page-token abc',
      ].join('\n'),
    );
    expect(renderSearch({ runs: [], nextPageToken: '', metricColumns: [] })).toBe('No runs match.');
  });
});

describe('metrics and runs commands on the command line', () => {
  async function cli(args: string[]): Promise<{ code: number; stdout: string }> {
    let stdout = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        stdout += chunk.toString();
        done();
      },
    });
    const code = await runCli(args, COMMANDS, { stdout: sink, stderr: sink, env: {}, cwd: process.cwd(), signals: new EventEmitter() });
    return { code, stdout };
  }

  it('register beside every other command, and document the ndjson output of the tail', async () => {
    const tail = await cli(['metric', 'tail', '--help']);
    expect(tail.code).toBe(0);
    expect(tail.stdout).toContain('--metric <key>');
    expect(tail.stdout).toContain('ndjson');
    expect((await cli(['metric', 'show', '--help'])).stdout).toContain('--width <n>');
    expect((await cli(['run', 'search', '--help'])).stdout).toContain('--order-by <clause>');
  });

  it('asks for the metric of metric show', async () => {
    const { code, stdout } = await cli(['metric', 'show', 'churn', '--json']);
    expect(code).toBe(2);
    expect(JSON.parse(stdout)).toMatchObject({ ok: false, error: { code: 'USAGE', message: '--metric is required' } });
  });
});
