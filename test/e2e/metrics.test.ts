import { SiteClient } from '@tributary/client-sdk';
import { encodeSafetensors, writeKeyFile, type MetricEvent__Output } from '@tributary/proto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeOf, runCli } from '../helpers/cli.js';
import { addSite, eventually, startStack, type Stack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

const STEPS = 40;
const SITES = ['m-a', 'm-b', 'm-c'];

describe('live metrics from sites', () => {
  let stack: Stack;
  let dir: string;
  let runId = '';
  const watched: MetricEvent__Output[] = [];
  const watch = new AbortController();
  let following: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    stack = await startStack({ metricsPort: 0 });
    dir = await mkdtemp(join(tmpdir(), 'tributary-metrics-'));
    await stack.admin.createFederation({ name: 'live', settings: { rounds: 1, minSites: 3, roundDeadlineSeconds: 60 }, initialModel: encodeSafetensors(toyModel()) });
    const keys = await Promise.all(SITES.map((name) => addSite(stack, name, ['live'])));
    following = (async () => {
      for await (const e of stack.admin.watchMetrics('live', { keys: ['loss'], signal: watch.signal })) watched.push(e);
    })().catch(() => undefined);
    const clients = await Promise.all(keys.map((key) => SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key })));
    const controller = new AbortController();
    const loops = clients.map((client, i) =>
      client.participate(
        'live',
        async (task) => {
          for (let step = 1; step <= STEPS; step++) task.log({ loss: (i + 1) / step, lr: 0.1 }, step);
          return { weights: toyTrain(task.model, client.site, task.round), numExamples: 10 };
        },
        { signal: controller.signal },
      ),
    );
    const run = await stack.admin.startRun('live');
    runId = run.id;
    await stack.admin.waitForRun(run.id);
    controller.abort();
    await Promise.all(loops);
    await Promise.all(clients.map((c) => c.close()));
    await writeKeyFile(join(dir, 'admin.key'), stack.adminKey);
  });

  afterAll(async () => {
    watch.abort();
    await following;
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('stores every point of every site, in order, under site/<name>/<key>', async () => {
    const history = await eventually(async () => {
      const h = await stack.admin.getMetricHistory('live', 'loss', { runId });
      const complete = h.series.filter((s) => s.site !== '').every((s) => s.points.length === STEPS) && h.series.length === SITES.length;
      return complete ? h : undefined;
    });
    expect(history.series.map((s) => s.site)).toEqual(SITES);
    history.series.forEach((series, i) => {
      expect(series.points.map((p) => p.step)).toEqual(Array.from({ length: STEPS }, (_, k) => k + 1));
      series.points.forEach((p) => expect(p.value).toBeCloseTo((i + 1) / p.step, 12));
    });
  });

  it('thins long series to the points asked for, keeping the first and the last', async () => {
    const thin = await stack.admin.getMetricHistory('live', 'loss', { runId, maxPoints: 7 });
    for (const series of thin.series) {
      expect(series.points.length).toBeLessThanOrEqual(7);
      expect(series.points.length).toBeGreaterThanOrEqual(4);
      expect(series.points[0]?.step).toBe(1);
      expect(series.points.at(-1)?.step).toBe(STEPS);
      const steps = series.points.map((p) => p.step);
      expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    }
  });

  it('streams them live to watchers, filtered by key', async () => {
    await eventually(() => (watched.reduce((n, e) => n + e.points.length, 0) >= STEPS * SITES.length ? true : undefined));
    expect(new Set(watched.flatMap((e) => e.points.map((p) => p.key)))).toEqual(new Set(['loss']));
    expect(new Set(watched.map((e) => e.site))).toEqual(new Set(SITES));
  });

  it('records the ingest lag and counts the points in Prometheus', async () => {
    const registry = stack.coordinator.metrics.registry;
    const lag = await registry.getSingleMetricAsString('tributary_metric_ingest_lag_seconds');
    const count = Number(/tributary_metric_ingest_lag_seconds_count(?:\{[^}]*\})? (\d+)/.exec(lag)?.[1] ?? '0');
    expect(count).toBeGreaterThanOrEqual(STEPS * SITES.length * 2);
    const points = await registry.getSingleMetricAsString('tributary_metric_points_total');
    expect(Number(/tributary_metric_points_total(?:\{[^}]*\})? (\d+)/.exec(points)?.[1] ?? '0')).toBe(STEPS * SITES.length * 2);
  });

  it('shows a metric per site with a sparkline, and finds runs, through the CLI', async () => {
    const env = { TRIBUTARY_COORDINATOR: stack.coordinator.address, TRIBUTARY_KEY: join(dir, 'admin.key') };
    const shown = await runCli(['metric', 'show', 'live', '--metric', 'loss'], { env });
    expect(shown.code, shown.stderr).toBe(0);
    for (const site of SITES) expect(shown.stdout).toContain(site);
    expect(shown.stdout).toMatch(/[▁▂▃▄▅▆▇█]{5,}/);
    const found = await runCli(['run', 'search', 'live', '--filter', 'metrics.sites_accepted = 3', '--json'], { env });
    expect(found.code, found.stderr).toBe(0);
    const envelope = envelopeOf(found);
    expect(envelope.ok).toBe(true);
    expect(JSON.stringify(envelope.result)).toContain(runId);
  });
});
