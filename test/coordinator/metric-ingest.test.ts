import { join } from 'node:path';
import { MemoryTrackingStore } from '@tributary/coordinator';
import { compileCoordinatorOptions } from '../../coordinator/src/config/coordinator-options.js';
import { METRIC_CONSUMER, MetricEventBus, MetricIngest, ensureStreams } from '../../coordinator/src/ingest/index.js';
import { silentLogger } from '../../coordinator/src/observability/logger.js';
import { CoordinatorMetrics } from '../../coordinator/src/observability/metrics.js';
import { RunEventBus } from '../../coordinator/src/rounds/events.js';
import { SitePresence } from '../../coordinator/src/sites/presence.js';
import { MemorySiteLastSeenTable, type LevelStateStore } from '../../coordinator/src/state/index.js';
import { TrackingOutbox } from '../../coordinator/src/tracking/outbox.js';
import { RunTracker } from '../../coordinator/src/tracking/run-tracker.js';
import {
  STREAM_METRICS,
  TributaryError,
  encodeMetricBatch,
  generateSigningKey,
  newUpdateId,
  subjects,
  type MetricBatch,
  type MetricEvent__Output,
  type MetricPoint,
  type SigningKey,
} from '@tributary/proto';
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signedEnvelope, siteWrite, startDataPlane, type DataPlane } from '../helpers/data-plane.js';
import { eventually } from '../helpers/stack.js';

/** The coordinator's default metric ingest tuning. */
const tuning = compileCoordinatorOptions({ dataDir: 'unused', nats: 'nats://127.0.0.1:4222', adminKeys: [new Uint8Array(32)] }).metricIngest;

const FED = 'fed1';
const OTHER_FED = 'fed2';

type Entries = Parameters<RunTracker['logSiteMetrics']>[1];

/** The real RunTracker, with failures a test can switch on. */
class FlakyTracker {
  calls = 0;
  /** The next calls fail (an unavailable store). */
  failures = 0;
  /** Calls whose points include this key fail as the store refusing the data. */
  poisonKey: string | undefined;
  /** Calls wait for this first (a slow store). */
  gate: Promise<void> | undefined;
  /** The most batches one call carried. */
  largestCall = 0;

  constructor(private readonly tracker: RunTracker) {}

  async logSiteMetrics(runId: string, entries: Entries): Promise<void> {
    this.calls += 1;
    this.largestCall = Math.max(this.largestCall, entries.length);
    await this.gate;
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('tracking store unavailable');
    }
    if (this.poisonKey !== undefined && entries.some((e) => e.points.some((p) => p.key === this.poisonKey))) {
      throw new TributaryError({ code: 'INVALID_ARGUMENT', reason: 'INVALID_PARAMETER_VALUE', message: `metric "${this.poisonKey}" is refused` });
    }
    await this.tracker.logSiteMetrics(runId, entries);
  }
}

describe('MetricIngest', () => {
  let plane: DataPlane;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let state: LevelStateStore;
  let store: MemoryTrackingStore;
  let tracker: RunTracker;
  let outbox: TrackingOutbox;
  let flaky: FlakyTracker;
  let metrics: CoordinatorMetrics;
  let ingest: MetricIngest;
  const bus = new MetricEventBus();
  const events: MetricEvent__Output[] = [];
  const alpha = generateSigningKey('alpha');
  const beta = generateSigningKey('beta');
  const gamma = generateSigningKey('gamma');
  const gone = generateSigningKey('gone');
  const outsider = generateSigningKey('outsider');
  const stranger = generateSigningKey('stranger');
  const delta = generateSigningKey('delta');
  let presence: SitePresence;
  let runSeq = 0;
  let runId = '';

  beforeAll(async () => {
    plane = await startDataPlane('tributary-metric-ingest-');
    ({ nc, js, jsm, state } = plane);
    await state.write([
      siteWrite('alpha', alpha, 'APPROVED', [FED]),
      siteWrite('beta', beta, 'APPROVED', [FED]),
      siteWrite('gamma', gamma, 'APPROVED', [FED]),
      siteWrite('delta', delta, 'APPROVED', [FED]),
      siteWrite('gone', gone, 'REVOKED', [FED]),
      siteWrite('outsider', outsider, 'APPROVED', [OTHER_FED]),
      { kind: 'run', value: runRecord('other-run', OTHER_FED) },
      { kind: 'federation', value: { name: FED, description: '', settings: null as never, modelSpec: [], createdAtMs: 1, latestVersion: 1 } },
    ]);
    store = MemoryTrackingStore.create();
    outbox = await TrackingOutbox.open(join(plane.dir, 'tracking-outbox'));
    tracker = new RunTracker({ store, state, events: new RunEventBus(), logger: silentLogger(), outbox });
    flaky = new FlakyTracker(tracker);
    metrics = new CoordinatorMetrics();
    bus.subscribe(FED, (e) => events.push(e));
    presence = await SitePresence.open({ table: new MemorySiteLastSeenTable(), logger: silentLogger(), writeIntervalMs: 3_600_000 });
    ingest = new MetricIngest({ nc, state, tracker: flaky, bus, metrics, logger: silentLogger(), consumerName: METRIC_CONSUMER, ensureStreams: () => ensureStreams(jsm), ...tuning, flushIntervalMs: 20, maxBatchPoints: 300, presence });
    await ingest.start();
  });

  afterAll(async () => {
    await ingest?.stop();
    await presence?.close();
    await outbox?.close();
    await plane?.stop();
    await store?.close();
  });

  beforeEach(async () => {
    runId = `run${++runSeq}`;
    await state.write([{ kind: 'run', value: runRecord(runId, FED) }]);
    flaky.failures = 0;
    flaky.poisonKey = undefined;
    flaky.gate = undefined;
    flaky.largestCall = 0;
    events.length = 0;
  });

  function runRecord(id: string, federation: string) {
    return {
      id,
      federation,
      status: 'RUN_STATUS_RUNNING' as const,
      rounds: 3,
      currentRound: 1,
      startedAtMs: Date.now(),
      endedAtMs: 0,
      failureReason: '',
      startVersion: 1,
      latestVersion: 1,
      settings: null,
      requestId: '',
    };
  }

  interface Publish {
    key: SigningKey;
    site?: string;
    points: MetricPoint[];
    batch?: Partial<MetricBatch>;
    subject?: string;
    /** Signs with this key while naming `key` (a forgery). */
    signWith?: SigningKey;
    kind?: 'metrics' | 'update';
  }

  /** Publishes one signed batch as a site does (acked, msgID = batch id). */
  async function publish(p: Publish): Promise<void> {
    const site = p.site ?? p.key.name;
    const batchId = newUpdateId();
    const body = encodeMetricBatch({ federation: FED, runId, round: 1, site, batchId, createdAtMs: Date.now(), points: p.points, ...p.batch });
    await js.publish(p.subject ?? subjects.metrics(FED, runId, site), signedEnvelope(p.kind ?? 'metrics', body, p.key, p.signWith), { msgID: batchId });
  }

  function points(n: number, opts: { from?: number; key?: string; at?: number; value?: (step: number) => number } = {}): MetricPoint[] {
    const at = opts.at ?? Date.now();
    const from = opts.from ?? 0;
    return Array.from({ length: n }, (_, i) => ({ key: opts.key ?? 'loss', value: (opts.value ?? ((s) => 1 / (s + 1)))(from + i), timestampMs: at, step: from + i }));
  }

  async function stored(site: string, key = 'loss'): Promise<Array<{ step: number; value: number; timestamp: number }>> {
    const history = await tracker.metricHistory(FED, runId, key);
    return (history.series.find((s) => s.site === site)?.points ?? []).map((p) => ({ step: p.step, value: p.value, timestamp: p.timestampMs }));
  }

  async function refusedCount(reason: string): Promise<number> {
    const metric = await metrics.metricBatchesRefused.get();
    return metric.values.find((v) => v.labels['reason'] === reason)?.value ?? 0;
  }

  async function settled(): Promise<void> {
    await eventually(async () => {
      const info = await jsm.consumers.info(STREAM_METRICS, 'tributary-metrics');
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
    });
  }

  it('stores every point of three sites streaming at once, with their values, steps and timestamps', async () => {
    const sites = [alpha, beta, gamma];
    const at = Date.now() - 1000;
    const sent = new Map<string, MetricPoint[]>();
    await Promise.all(
      sites.map(async (key, s) => {
        const all: MetricPoint[] = [];
        for (let b = 0; b < 20; b++) {
          const batch = [
            ...points(25, { from: b * 25, key: 'loss', at: at + b, value: (step) => s + step / 1000 }),
            ...points(25, { from: b * 25, key: 'accuracy', at: at + b, value: (step) => 1 - 1 / (step + 2) }),
          ];
          all.push(...batch);
          await publish({ key, points: batch });
        }
        sent.set(key.name, all);
      }),
    );
    await settled();
    for (const key of sites) {
      for (const metric of ['loss', 'accuracy']) {
        const expected = (sent.get(key.name) ?? [])
          .filter((p) => p.key === metric)
          .map((p) => ({ step: Number(p.step), value: p.value, timestamp: Number(p.timestampMs) }));
        expect(await stored(key.name, metric)).toEqual(expected);
      }
    }
    const published = events.filter((e) => e.runId === runId).reduce((n, e) => n + e.points.length, 0);
    expect(published).toBe(3 * 20 * 50);
  });

  it('publishes committed points with the time they were stored', async () => {
    const before = Date.now();
    await publish({ key: alpha, points: points(3) });
    const event = await eventually(() => events.find((e) => e.runId === runId));
    expect(event).toMatchObject({ federation: FED, runId, round: 1, site: 'alpha' });
    expect(event.points.map((p) => p.step)).toEqual([0, 1, 2]);
    expect(event.storedAtMs).toBeGreaterThanOrEqual(before);
  });

  it('keeps NaN and infinite values, as MLflow does', async () => {
    await publish({ key: alpha, points: [NaN, Infinity, -Infinity].map((value, step) => ({ key: 'loss', value, timestampMs: Date.now(), step })) });
    await settled();
    expect((await stored('alpha')).map((p) => p.value)).toEqual([NaN, Infinity, -Infinity]);
  });

  it('stores a batch published twice under the same id once', async () => {
    const body = encodeMetricBatch({ federation: FED, runId, round: 1, site: 'alpha', batchId: 'b'.repeat(32), createdAtMs: Date.now(), points: points(4) });
    const bytes = signedEnvelope('metrics', body, alpha);
    await js.publish(subjects.metrics(FED, runId, 'alpha'), bytes, { msgID: 'b'.repeat(32) });
    await js.publish(subjects.metrics(FED, runId, 'alpha'), bytes, { msgID: 'b'.repeat(32) });
    await settled();
    expect(await stored('alpha')).toHaveLength(4);
  });

  it('refuses forged, unknown, revoked, misattributed, non-member, unknown-run, malformed and invalid batches, counting each, and keeps going', async () => {
    const cases: Array<[reason: string, send: () => Promise<void>]> = [
      ['SIGNATURE_INVALID', () => publish({ key: alpha, signWith: stranger, points: points(2) })],
      ['UNKNOWN_KEY', () => publish({ key: stranger, points: points(2) })],
      ['KEY_REVOKED', () => publish({ key: gone, points: points(2) })],
      ['SITE_MISMATCH', () => publish({ key: alpha, site: 'beta', points: points(2) })],
      ['SUBJECT_MISMATCH', () => publish({ key: alpha, points: points(2), subject: subjects.metrics(FED, runId, 'beta') })],
      ['NOT_A_MEMBER', () => publish({ key: outsider, points: points(2) })],
      ['RUN_NOT_FOUND', () => publish({ key: alpha, points: points(2), batch: { runId: 'no-such-run' }, subject: subjects.metrics(FED, 'no-such-run', 'alpha') })],
      ['RUN_NOT_FOUND', () => publish({ key: alpha, points: points(2), batch: { runId: 'other-run' }, subject: subjects.metrics(FED, 'other-run', 'alpha') })],
      ['MALFORMED_ENVELOPE', async () => void (await js.publish(subjects.metrics(FED, runId, 'alpha'), new Uint8Array([0xff, 0x01, 0x02, 0x03])))],
      ['MALFORMED_ENVELOPE', () => publish({ key: alpha, kind: 'update', points: points(2) })],
      ['INVALID_METRIC_KEY', () => publish({ key: alpha, points: points(2, { key: '../escape' }) })],
      ['INVALID_METRIC_KEY', () => publish({ key: alpha, points: points(2, { key: 'pérdida' }) })],
      ['INVALID_METRIC_KEY', () => publish({ key: alpha, points: points(2, { key: 'x'.repeat(250) }) })],
      ['INVALID_ARGUMENT', () => publish({ key: alpha, points: [{ key: 'loss', value: 1, timestampMs: -5, step: 0 }] })],
    ];
    const expected = new Map<string, number>();
    for (const [reason] of cases) expected.set(reason, (expected.get(reason) ?? 0) + 1);
    const before = new Map(await Promise.all([...expected.keys()].map(async (r) => [r, await refusedCount(r)] as const)));
    for (const [, send] of cases) await send();
    await publish({ key: beta, points: points(5) });
    await settled();
    for (const [reason, n] of expected) expect(await refusedCount(reason), reason).toBe((before.get(reason) ?? 0) + n);
    expect(await stored('alpha')).toEqual([]);
    expect(await stored('beta')).toHaveLength(5);
  });

  it('redelivers the batches of a failed write and stores them once it succeeds, losing nothing', async () => {
    const failuresBefore = (await metrics.metricFlushFailures.get()).values[0]?.value ?? 0;
    flaky.failures = 2;
    for (let b = 0; b < 10; b++) await publish({ key: gamma, points: points(10, { from: b * 10 }) });
    await settled();
    const history = await stored('gamma');
    expect(history.map((p) => p.step)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect((await metrics.metricFlushFailures.get()).values[0]?.value).toBe(failuresBefore + 2);
  });

  it('sets aside a batch the tracking store refuses without holding back the batches written with it', async () => {
    flaky.poisonKey = 'poison';
    const before = await refusedCount('INVALID_PARAMETER_VALUE');
    // A slow write holds the next three batches back, so they are written together.
    let release = () => {};
    flaky.gate = new Promise((resolve) => (release = resolve));
    await publish({ key: alpha, points: points(1, { key: 'first' }) });
    await eventually(() => (flaky.largestCall > 0 ? true : undefined));
    await publish({ key: alpha, points: points(5) });
    await publish({ key: beta, points: points(5, { key: 'poison' }) });
    await publish({ key: gamma, points: points(5) });
    // All four batches delivered and none settled: the three behind the slow write are buffered.
    await eventually(async () => {
      const info = await jsm.consumers.info(STREAM_METRICS, METRIC_CONSUMER);
      return info.num_pending === 0 && info.num_ack_pending >= 4 ? true : undefined;
    });
    // Delivered batches are verified before they are buffered: give that a moment.
    await new Promise((r) => setTimeout(r, 100));
    flaky.gate = undefined;
    release();
    await settled();
    expect(flaky.largestCall).toBe(3);
    expect(await stored('alpha')).toHaveLength(5);
    expect(await stored('gamma')).toHaveLength(5);
    expect(await stored('beta', 'poison')).toEqual([]);
    expect(await refusedCount('INVALID_PARAMETER_VALUE')).toBe(before + 1);
  });

  it("records nothing in a site's last seen for a batch naming it that another key signed", async () => {
    await publish({ key: delta, signWith: stranger, points: points(1) });
    await settled();
    expect((await presence.of('delta')).lastSeenAtMs).toBe(0);
  });

  it("records a verified batch as its site's last seen, at the time the stream stored it", async () => {
    const before = Date.now();
    await publish({ key: delta, points: points(1) });
    const seen = await eventually(async () => (await presence.of('delta')).lastSeenAtMs || undefined);
    expect(seen).toBeGreaterThanOrEqual(before - 1000);
    expect(seen).toBeLessThanOrEqual(Date.now());
  });

  it('records the ingest lag of every point, from its timestamp to the commit', async () => {
    const lag = async () => {
      const values = (await metrics.metricIngestLag.get()).values;
      return {
        count: values.find((v) => v.metricName === 'tributary_metric_ingest_lag_seconds_count')?.value ?? 0,
        sum: values.find((v) => v.metricName === 'tributary_metric_ingest_lag_seconds_sum')?.value ?? 0,
        under5s: values.find((v) => v.metricName === 'tributary_metric_ingest_lag_seconds_bucket' && v.labels['le'] === 5)?.value ?? 0,
      };
    };
    const pointsBefore = (await metrics.metricPoints.get()).values[0]?.value ?? 0;
    const before = await lag();
    await publish({ key: alpha, points: points(7, { at: Date.now() - 10_000 }) });
    await settled();
    const after = await lag();
    expect(after.count - before.count).toBe(7);
    expect(after.sum - before.sum).toBeGreaterThanOrEqual(7 * 10);
    expect(after.under5s).toBe(before.under5s);
    expect((await metrics.metricPoints.get()).values[0]?.value).toBe(pointsBefore + 7);
  });
});
