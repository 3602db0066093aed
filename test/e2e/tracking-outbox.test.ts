import { MlflowRestStore } from '@tributary/coordinator';
import { encodeSafetensors, type SigningKey } from '@tributary/proto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addSites, metricValue, startProcessStack, type HealthzBody, type ProcessStack } from '../helpers/process-stack.js';
import { eventually } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';
import { MlflowContractFake } from '../tracking/mlflow-contract-fake.js';

const ROUNDS = 3;
const FEDERATION = 'outbox';

/**
 * Fault test 5: the tracking store (the MLflow REST contract fake, which follows MLflow's
 * documented REST API 2.0 contract) is down for a whole round while the coordinator goes on.
 * The coordinator's own MLflow client does not retry (MLFLOW_HTTP_REQUEST_MAX_RETRIES=0), so only
 * the outbox can bring the writes through.
 */
describe('a tracking outage: an MLflow tracking server (REST contract fake) down for a whole round', () => {
  let fake: MlflowContractFake;
  let stack: ProcessStack | undefined;
  let savedRetries: string | undefined;

  beforeEach(async () => {
    savedRetries = process.env['MLFLOW_HTTP_REQUEST_MAX_RETRIES'];
    process.env['MLFLOW_HTTP_REQUEST_MAX_RETRIES'] = '0';
    fake = await MlflowContractFake.start();
    stack = await startProcessStack({ trackingUri: fake.url, trackingRetryDelay: '100ms', trackingRetryMaxDelay: '1s' });
  });
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
    fake.unavailable = false;
    await fake.stop();
    if (savedRetries === undefined) delete process.env['MLFLOW_HTTP_REQUEST_MAX_RETRIES'];
    else process.env['MLFLOW_HTTP_REQUEST_MAX_RETRIES'] = savedRetries;
  });

  /** Starts a run of one site; `round(n)` sends its update for round n once that round is open. */
  async function federation(live: ProcessStack): Promise<{ runId: string; round: (n: number) => Promise<void> }> {
    const base = toyModel();
    await live.admin.createFederation({ name: FEDERATION, settings: { rounds: ROUNDS, minSites: 1, roundDeadlineSeconds: 120, strategy: 'fedavg' }, initialModel: encodeSafetensors(base) });
    const keys = await addSites(live, FEDERATION, ['solo']);
    const run = await live.admin.startRun(FEDERATION);
    const round = async (n: number): Promise<void> => {
      await eventually(async () => ((await live.admin.getRun(run.id)).currentRound === n ? true : undefined), 60_000);
      const raw = await live.rawSite();
      try {
        const verdict = await raw.send({ key: keys['solo'] as SigningKey, site: 'solo', federation: FEDERATION, runId: run.id, round: n, weights: toyTrain(base, 'solo', n) });
        expect(verdict).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
      } finally {
        await raw.close();
      }
    };
    return { runId: run.id, round };
  }

  async function trackingHealth(live: ProcessStack): Promise<NonNullable<HealthzBody['tracking']>> {
    const { tracking } = (await live.healthz()).body;
    if (tracking === undefined) throw new Error('/healthz has no tracking detail');
    return tracking;
  }

  /** Waits for the run to be FINISHED in the fake, then checks every record arrived exactly once. */
  async function expectEverythingOnce(live: ProcessStack, runId: string): Promise<void> {
    const reader = MlflowRestStore.create({ uri: fake.url, env: {}, maxRetries: 0 });
    try {
      const experiment = await eventually(async () => reader.getExperimentByName(FEDERATION).catch(() => undefined), 60_000);
      const tracked = await eventually(async () => {
        const page = await reader.searchRuns({ experimentIds: [experiment.experimentId] });
        return page.runs[0]?.info.status === 'FINISHED' ? page.runs[0] : undefined;
      }, 60_000);
      expect(tracked.data.tags['tributary.run_id']).toBe(runId);
      expect(tracked.data.params).toMatchObject({ federation: FEDERATION, rounds: String(ROUNDS), min_sites: '1', strategy: 'fedavg', round_deadline_seconds: '120' });
      for (const key of ['sites_accepted', 'model_version', 'round_duration_seconds', 'bytes_received']) {
        const history = await reader.getMetricHistory(tracked.info.runId, key);
        expect(history.metrics.map((m) => m.step)).toEqual([1, 2, 3]);
      }
      expect((await reader.getMetricHistory(tracked.info.runId, 'model_version')).metrics.map((m) => m.value)).toEqual([2, 3, 4]);
      // Each round's record was taken by the server in exactly one request: nothing sent twice.
      const taken = fake.requestsTo('runs/log-batch').filter((r) => r.status === 200);
      for (let n = 1; n <= ROUNDS; n++) {
        const carrying = taken.filter((r) => ((r.body as { metrics?: Array<{ key: string; step: string | number }> }).metrics ?? []).some((m) => m.key === 'sites_accepted' && Number(m.step) === n));
        expect(carrying, `round ${n}`).toHaveLength(1);
      }
      const health = await eventually(async () => {
        const h = await trackingHealth(live);
        return h.outboxDepth === 0 ? h : undefined;
      });
      expect(health).toMatchObject({ outboxDepth: 0, refusedWrites: 0 });
      expect(metricValue(await live.metricsText(), 'tributary_tracking_outbox_depth')).toBe(0);
    } finally {
      await reader.close();
    }
  }

  it('delivers every round metric and param once the server accepts connections again, none lost or duplicated', async () => {
    const live = stack as ProcessStack;
    const { runId, round } = await federation(live);
    await round(1);
    await fake.goDown();
    await round(2);
    // The round's record waits in the outbox, and /healthz says so.
    const waiting = await eventually(async () => {
      const h = await trackingHealth(live);
      return h.outboxDepth > 0 && h.lastError !== undefined ? h : undefined;
    }, 60_000);
    expect(waiting.lastError).toContain('TEMPORARILY_UNAVAILABLE');
    expect(metricValue(await live.metricsText(), 'tributary_tracking_outbox_depth')).toBeGreaterThan(0);
    await fake.comeBack();
    await round(3);
    await live.admin.waitForRun(runId);
    await expectEverythingOnce(live, runId);
  }, 180_000);

  it('stops on SIGTERM with exit code 0 while the server is down, and the next start delivers what waited', async () => {
    const live = stack as ProcessStack;
    const { runId, round } = await federation(live);
    await round(1);
    await fake.goDown();
    await round(2);
    await eventually(async () => ((await trackingHealth(live)).outboxDepth > 0 ? true : undefined), 60_000);
    // The flush gives up after trackingFlushTimeout; the writes stay in the outbox.
    expect(await live.terminateCoordinator()).toBe(0);
    await live.startCoordinator();
    await fake.comeBack();
    await round(3);
    await live.admin.waitForRun(runId);
    await expectEverythingOnce(live, runId);
  }, 180_000);

  it('records a write the server refuses with INVALID_PARAMETER_VALUE (400), does not retry it, and delivers the rest', async () => {
    const live = stack as ProcessStack;
    const { runId, round } = await federation(live);
    await round(1);
    await eventually(async () => ((await trackingHealth(live)).outboxDepth === 0 && fake.requestsTo('runs/log-batch').length > 0 ? true : undefined), 60_000);
    // The next request is round 2's record.
    fake.answerNext({ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE', message: 'Invalid value for metric' } });
    await round(2);
    await round(3);
    await live.admin.waitForRun(runId);
    const reader = MlflowRestStore.create({ uri: fake.url, env: {}, maxRetries: 0 });
    try {
      const experiment = await reader.getExperimentByName(FEDERATION);
      const tracked = await eventually(async () => {
        const page = await reader.searchRuns({ experimentIds: [experiment.experimentId] });
        return page.runs[0]?.info.status === 'FINISHED' ? page.runs[0] : undefined;
      }, 60_000);
      expect(tracked.data.tags['tributary.round.2.tracking_dropped']).toContain('INVALID_PARAMETER_VALUE');
      expect((await reader.getMetricHistory(tracked.info.runId, 'sites_accepted')).metrics.map((m) => m.step)).toEqual([1, 3]);
    } finally {
      await reader.close();
    }
    const carryingRound2 = fake.requestsTo('runs/log-batch').filter((r) => ((r.body as { metrics?: Array<{ key: string; step: string | number }> }).metrics ?? []).some((m) => m.key === 'sites_accepted' && Number(m.step) === 2));
    expect(carryingRound2).toHaveLength(1);
    expect(await trackingHealth(live)).toMatchObject({ outboxDepth: 0, refusedWrites: 1 });
    expect(metricValue(await live.metricsText(), 'tributary_tracking_writes_refused_total', 'reason="INVALID_PARAMETER_VALUE"')).toBe(1);
  }, 180_000);

  it('delivers them after a kill -9 of the coordinator while the server answered 503, none lost or duplicated', async () => {
    const live = stack as ProcessStack;
    const { runId, round } = await federation(live);
    await round(1);
    fake.unavailable = true;
    await round(2);
    await eventually(async () => ((await trackingHealth(live)).outboxDepth > 0 ? true : undefined), 60_000);
    await live.killCoordinator();
    await live.startCoordinator();
    // The restarted coordinator found the waiting writes in its outbox.
    expect((await trackingHealth(live)).outboxDepth).toBeGreaterThan(0);
    await round(3);
    fake.unavailable = false;
    await live.admin.waitForRun(runId);
    await expectEverythingOnce(live, runId);
  }, 180_000);
});
