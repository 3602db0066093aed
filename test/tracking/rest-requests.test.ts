import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MlflowRestStore } from '@tributary/coordinator';
import type { MlflowRestStoreOptions, TrackingStore } from '@tributary/coordinator';
import { MlflowContractFake } from './mlflow-contract-fake.js';
import type { RecordedRequest } from './mlflow-contract-fake.js';
import { failureOf } from './failure.js';

const T0 = 1_700_000_000_000;
let fake: MlflowContractFake;

beforeAll(async () => {
  fake = await MlflowContractFake.start();
});
afterAll(async () => {
  await fake.stop();
});
beforeEach(() => {
  fake.reset();
});

/** A store on the fake with quick retries and no credentials from the environment. */
function storeOn(over: Partial<MlflowRestStoreOptions> = {}): MlflowRestStore {
  return MlflowRestStore.create({ uri: fake.url, env: {}, backoffFactorMs: 1, backoffJitterMs: 0, ...over });
}


async function runOn(store: TrackingStore): Promise<string> {
  const experimentId = await store.createExperiment('churn');
  const run = await store.createRun({ experimentId, runName: 'r', startTime: T0 });
  fake.requests.length = 0;
  return run.info.runId;
}

const bodies = (requests: RecordedRequest[]) => requests.map((r) => r.body as Record<string, unknown[]>);
const counts = (requests: RecordedRequest[]) =>
  bodies(requests).map((b) => ({ params: b['params']?.length ?? 0, tags: b['tags']?.length ?? 0, metrics: b['metrics']?.length ?? 0 }));

describe('MLflow REST requests', () => {
  it('creates an experiment with POST experiments/create', async () => {
    const store = storeOn();
    const id = await store.createExperiment('churn', { team: 'risk' });
    expect(fake.requests).toHaveLength(1);
    const [req] = fake.requests;
    expect(req).toMatchObject({ method: 'POST', path: '/api/2.0/mlflow/experiments/create' });
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.body).toEqual({ name: 'churn', tags: [{ key: 'team', value: 'risk' }] });
    expect(id).toBe('1');
  });

  it('reads experiments with GET and query parameters', async () => {
    const store = storeOn();
    await store.createExperiment('churn');
    await store.getExperiment('1');
    await store.getExperimentByName('churn');
    const gets = fake.requests.filter((r) => r.method === 'GET');
    expect(gets.map((r) => [r.path, r.query, r.raw])).toEqual([
      ['/api/2.0/mlflow/experiments/get', { experiment_id: '1' }, ''],
      ['/api/2.0/mlflow/experiments/get-by-name', { experiment_name: 'churn' }, ''],
    ]);
  });

  it('searches experiments with POST experiments/search', async () => {
    const store = storeOn();
    await store.searchExperiments({ filter: "name LIKE 'c%'", orderBy: ['name ASC'], maxResults: 10, pageToken: 'eyJvZmZzZXQiOiAwfQ==' });
    expect(fake.requests[0]).toMatchObject({
      method: 'POST',
      path: '/api/2.0/mlflow/experiments/search',
      body: { max_results: 10, page_token: 'eyJvZmZzZXQiOiAwfQ==', filter: "name LIKE 'c%'", order_by: ['name ASC'], view_type: 'ACTIVE_ONLY' },
    });
  });

  it('creates a run with POST runs/create', async () => {
    const store = storeOn();
    await store.createExperiment('churn');
    await store.createRun({ experimentId: '1', runName: 'round-robin', startTime: T0, tags: { federation: 'churn' } });
    expect(fake.requestsTo('runs/create')[0]?.body).toEqual({
      experiment_id: '1',
      start_time: T0,
      tags: [{ key: 'federation', value: 'churn' }],
      run_name: 'round-robin',
    });
  });

  it('updates a run with POST runs/update, reading its status first when none is given', async () => {
    const store = storeOn();
    const runId = await runOn(store);
    await store.updateRun(runId, { status: 'FINISHED', endTime: T0 + 10 });
    await store.updateRun(runId, { runName: 'renamed' });
    expect(fake.requests.map((r) => [r.method, r.path, r.method === 'GET' ? r.query : r.body])).toEqual([
      ['POST', '/api/2.0/mlflow/runs/update', { run_id: runId, status: 'FINISHED', end_time: T0 + 10 }],
      ['GET', '/api/2.0/mlflow/runs/get', { run_id: runId }],
      ['POST', '/api/2.0/mlflow/runs/update', { run_id: runId, status: 'FINISHED', run_name: 'renamed' }],
    ]);
  });

  it('searches runs with POST runs/search', async () => {
    const store = storeOn();
    await store.createExperiment('churn');
    await store.searchRuns({
      experimentIds: ['1'],
      filter: 'metrics.accuracy > 0.9',
      orderBy: ['metrics.accuracy DESC', 'attributes.start_time ASC'],
      maxResults: 5,
    });
    expect(fake.requestsTo('runs/search')[0]?.body).toEqual({
      experiment_ids: ['1'],
      filter: 'metrics.accuracy > 0.9',
      run_view_type: 'ACTIVE_ONLY',
      max_results: 5,
      order_by: ['metrics.accuracy DESC', 'attributes.start_time ASC'],
    });
  });

  it('reads metric history with GET metrics/get-history', async () => {
    const store = storeOn();
    const runId = await runOn(store);
    await store.getMetricHistory(runId, 'loss', { maxResults: 100, pageToken: 'eyJvZmZzZXQiOiAwfQ==' });
    await store.getMetricHistory(runId, 'loss');
    expect(fake.requests.map((r) => [r.method, r.path, r.query])).toEqual([
      ['GET', '/api/2.0/mlflow/metrics/get-history', { run_id: runId, metric_key: 'loss', max_results: '100', page_token: 'eyJvZmZzZXQiOiAwfQ==' }],
      ['GET', '/api/2.0/mlflow/metrics/get-history', { run_id: runId, metric_key: 'loss', max_results: '25000' }],
    ]);
  });

  it('deletes a tag with POST runs/delete-tag', async () => {
    const store = storeOn();
    const runId = await runOn(store);
    await store.logBatch(runId, { tags: [{ key: 'draft', value: '1' }] });
    await store.deleteTag(runId, 'draft');
    expect(fake.requestsTo('runs/delete-tag')[0]?.body).toEqual({ run_id: runId, key: 'draft' });
  });

  it('deletes an experiment with POST experiments/delete and its id as JSON', async () => {
    const store = storeOn();
    const id = await store.createExperiment('doomed');
    await store.deleteExperiment(id);
    const [request] = fake.requestsTo('experiments/delete');
    expect([request?.method, request?.headers['content-type'], request?.body]).toEqual(['POST', 'application/json', { experiment_id: id }]);
  });
});

describe('MLflow REST log-batch', () => {
  it('sends a small batch as one request in MLflow JSON, NaN and ±Infinity as words', async () => {
    const store = storeOn();
    const runId = await runOn(store);
    await store.logBatch(runId, {
      metrics: [
        { key: 'loss', value: 0.25, timestamp: T0, step: 3 },
        { key: 'nan', value: NaN, timestamp: T0, step: 0 },
        { key: 'inf', value: Infinity, timestamp: T0 + 1, step: 1 },
        { key: 'ninf', value: -Infinity, timestamp: T0 + 2, step: 2 },
      ],
      params: [{ key: 'lr', value: '0.1' }],
      tags: [{ key: 'model.version', value: '7' }],
    });
    const [req] = fake.requestsTo('runs/log-batch');
    expect(req!.raw).toBe(
      JSON.stringify({
        run_id: runId,
        metrics: [
          { key: 'loss', value: 0.25, timestamp: T0, step: 3 },
          { key: 'nan', value: 'NaN', timestamp: T0, step: 0 },
          { key: 'inf', value: 'Infinity', timestamp: T0 + 1, step: 1 },
          { key: 'ninf', value: '-Infinity', timestamp: T0 + 2, step: 2 },
        ],
        params: [{ key: 'lr', value: '0.1' }],
        tags: [{ key: 'model.version', value: '7' }],
      }),
    );
  });

  it('splits params and tags into chunks of 100, topped up with metrics to 1000 entities', async () => {
    const store = storeOn();
    const runId = await runOn(store);
    await store.logBatch(runId, {
      params: Array.from({ length: 250 }, (_, i) => ({ key: `p${i}`, value: 'v' })),
      tags: Array.from({ length: 150 }, (_, i) => ({ key: `t${i}`, value: 'v' })),
      metrics: Array.from({ length: 2500 }, (_, i) => ({ key: 'm', value: i, timestamp: T0, step: i })),
    });
    const requests = fake.requestsTo('runs/log-batch');
    expect(counts(requests)).toEqual([
      { params: 100, tags: 100, metrics: 800 },
      { params: 100, tags: 50, metrics: 850 },
      { params: 50, tags: 0, metrics: 850 },
    ]);
    // Entities keep their order across requests.
    const steps = bodies(requests).flatMap((b) => (b['metrics'] as Array<{ step: number }>).map((m) => m.step));
    expect(steps).toEqual(Array.from({ length: 2500 }, (_, i) => i));
  });

  it('sends metrics beyond the param and tag chunks 1000 a request', async () => {
    const store = storeOn();
    const runId = await runOn(store);
    await store.logBatch(runId, {
      params: [{ key: 'lr', value: '0.1' }],
      metrics: Array.from({ length: 3200 }, (_, i) => ({ key: 'm', value: i, timestamp: T0, step: i })),
    });
    expect(counts(fake.requestsTo('runs/log-batch'))).toEqual([
      { params: 1, tags: 0, metrics: 999 },
      { params: 0, tags: 0, metrics: 1000 },
      { params: 0, tags: 0, metrics: 1000 },
      { params: 0, tags: 0, metrics: 201 },
    ]);
  });

  it('cuts a request over 1 MB into requests under it, in order', async () => {
    const store = storeOn();
    const runId = await runOn(store);
    const params = Array.from({ length: 100 }, (_, i) => ({ key: `p${i}`, value: 'x'.repeat(6000) }));
    const tags = Array.from({ length: 100 }, (_, i) => ({ key: `t${i}`, value: 'y'.repeat(5000) }));
    const metrics = Array.from({ length: 800 }, (_, i) => ({ key: `m${i}`, value: i, timestamp: T0, step: 0 }));
    await store.logBatch(runId, { params, tags, metrics });
    const requests = fake.requestsTo('runs/log-batch');
    expect(requests.length).toBeGreaterThan(1);
    for (const r of requests) expect(Buffer.byteLength(r.raw, 'utf8')).toBeLessThanOrEqual(1_000_000);
    const sent = bodies(requests);
    expect(sent.flatMap((b) => (b['params'] ?? []) as Array<{ key: string }>).map((p) => p.key)).toEqual(params.map((p) => p.key));
    expect(sent.flatMap((b) => (b['tags'] ?? []) as Array<{ key: string }>).map((t) => t.key)).toEqual(tags.map((t) => t.key));
    expect(sent.flatMap((b) => (b['metrics'] ?? []) as Array<{ key: string }>).map((m) => m.key)).toEqual(metrics.map((m) => m.key));
    expect(counts(requests)).toEqual([
      { params: 100, tags: 79, metrics: 0 },
      { params: 0, tags: 21, metrics: 800 },
    ]);
  });

  it('sends nothing for an empty batch', async () => {
    const store = storeOn();
    const runId = await runOn(store);
    await store.logBatch(runId, {});
    expect(fake.requests).toHaveLength(0);
  });

  it('checks the whole batch before the first request', async () => {
    const store = storeOn();
    const runId = await runOn(store);
    const err = await failureOf(
      store.logBatch(runId, {
        params: Array.from({ length: 150 }, (_, i) => ({ key: i === 149 ? 'bad*key' : `p${i}`, value: 'v' })),
      }),
    );
    expect(err).toMatchObject({ reason: 'INVALID_PARAMETER_VALUE' });
    expect(err.message).toContain('params[149]');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('MLflow REST retries', () => {
  it('retries 503 and 429 answers, then succeeds with the same request', async () => {
    const store = storeOn();
    fake.answerNext(
      { status: 503, body: { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'busy' } },
      { status: 429, body: 'slow down', headers: { 'retry-after': '0' } },
    );
    expect(await store.createExperiment('churn')).toBe('1');
    const attempts = fake.requestsTo('experiments/create');
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((r) => r.raw)).size).toBe(1);
  });

  it('retries 408, 500, 502 and 504 too', async () => {
    const store = storeOn();
    fake.answerNext({ status: 408 }, { status: 500 }, { status: 502 }, { status: 504 });
    await store.createExperiment('churn');
    expect(fake.requestsTo('experiments/create')).toHaveLength(5);
  });

  it('gives up after maxRetries with the last answer mapped', async () => {
    const store = storeOn({ maxRetries: 2 });
    fake.answerNext(...Array.from({ length: 3 }, () => ({ status: 503, body: { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'down for maintenance' } })));
    const err = await failureOf(store.createExperiment('churn'));
    expect(err).toMatchObject({ code: 'UNAVAILABLE', reason: 'TEMPORARILY_UNAVAILABLE', message: 'down for maintenance' });
    expect(fake.requests).toHaveLength(3);
  });

  it('does not retry a 400', async () => {
    const store = storeOn();
    await store.createExperiment('churn');
    fake.requests.length = 0;
    await failureOf(store.createExperiment('churn'));
    expect(fake.requests).toHaveLength(1);
  });

  it('retries when the server cannot be reached, then reports it unavailable', async () => {
    const store = MlflowRestStore.create({ uri: 'http://127.0.0.1:9', env: {}, maxRetries: 2, backoffFactorMs: 1, backoffJitterMs: 0 });
    const err = await failureOf(store.getExperiment('1'));
    expect(err).toMatchObject({ code: 'UNAVAILABLE', reason: 'TEMPORARILY_UNAVAILABLE' });
    expect(err.message).toContain('3 attempt(s)');
  });

  it('stops waiting when closed', async () => {
    const store = storeOn({ backoffFactorMs: 60_000 });
    fake.answerNext({ status: 503 });
    const pending = failureOf(store.createExperiment('churn'));
    await new Promise((r) => setTimeout(r, 50));
    await store.close();
    expect(await pending).toMatchObject({ reason: 'TRACKING_STORE_CLOSED' });
  });
});

describe('MLflow REST errors', () => {
  it('maps RESOURCE_ALREADY_EXISTS as HTTP 400 to ALREADY_EXISTS', async () => {
    const store = storeOn();
    await store.createExperiment('churn');
    const err = await failureOf(store.createExperiment('churn'));
    expect(err).toMatchObject({ code: 'ALREADY_EXISTS', reason: 'RESOURCE_ALREADY_EXISTS', message: "Experiment 'churn' already exists." });
  });

  it('reads a 409 as already exists, with or without a body', async () => {
    const store = storeOn();
    fake.answerNext({ status: 409 }, { status: 409, body: { error_code: 'RESOURCE_ALREADY_EXISTS', message: 'taken' } });
    expect(await failureOf(store.createExperiment('churn'))).toMatchObject({ code: 'ALREADY_EXISTS', reason: 'RESOURCE_ALREADY_EXISTS' });
    expect(await failureOf(store.createExperiment('churn'))).toMatchObject({ code: 'ALREADY_EXISTS', reason: 'RESOURCE_ALREADY_EXISTS', message: 'taken' });
  });

  it('maps RESOURCE_DOES_NOT_EXIST (404) to NOT_FOUND and an unknown endpoint to UNIMPLEMENTED', async () => {
    const store = storeOn();
    expect(await failureOf(store.getExperiment('77'))).toMatchObject({ code: 'NOT_FOUND', reason: 'RESOURCE_DOES_NOT_EXIST' });
    fake.answerNext({ status: 404, body: '<html>Not Found</html>' });
    expect(await failureOf(store.getExperiment('77'))).toMatchObject({
      code: 'UNIMPLEMENTED',
      reason: 'UNIMPLEMENTED',
      details: { errorCode: 'ENDPOINT_NOT_FOUND', httpStatus: 404 },
    });
  });

  it('maps a 401 to UNAUTHENTICATED', async () => {
    fake.requiredAuthorization = 'Bearer right';
    const err = await failureOf(storeOn({ token: 'wrong' }).getExperiment('0'));
    expect(err).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'UNAUTHENTICATED' });
  });

  it('reports a 200 answer that is not JSON as INTERNAL_ERROR', async () => {
    fake.answerNext({ status: 200, body: 'ok' });
    expect(await failureOf(storeOn().getExperiment('0'))).toMatchObject({ code: 'INTERNAL', reason: 'INTERNAL_ERROR' });
  });
});

describe('MLflow REST authentication', () => {
  const authOf = async (store: MlflowRestStore) => {
    fake.requests.length = 0;
    await store.getExperiment('0');
    return fake.requests[0]?.headers['authorization'];
  };
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  it('sends a bearer token from the options', async () => {
    expect(await authOf(storeOn({ token: 'tok' }))).toBe('Bearer tok');
  });

  it('sends basic auth from the options', async () => {
    expect(await authOf(storeOn({ username: 'ann', password: 's3cret' }))).toBe(basic('ann', 's3cret'));
  });

  it('reads MLFLOW_TRACKING_TOKEN from the environment', async () => {
    expect(await authOf(storeOn({ env: { MLFLOW_TRACKING_TOKEN: 'envtok' } }))).toBe('Bearer envtok');
  });

  it('prefers MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD over the token, as MLflow does', async () => {
    const env = { MLFLOW_TRACKING_USERNAME: 'bob', MLFLOW_TRACKING_PASSWORD: 'pw', MLFLOW_TRACKING_TOKEN: 'ignored' };
    expect(await authOf(storeOn({ env }))).toBe(basic('bob', 'pw'));
  });

  it('lets explicit credentials replace the environment', async () => {
    const env = { MLFLOW_TRACKING_USERNAME: 'bob', MLFLOW_TRACKING_PASSWORD: 'pw' };
    expect(await authOf(storeOn({ env, token: 'explicit' }))).toBe('Bearer explicit');
  });

  it('takes credentials in the URI as basic auth and keeps them out of the request URL', async () => {
    const withUser = fake.url.replace('http://', 'http://ann:p%40ss@');
    const store = MlflowRestStore.create({ uri: withUser, env: {} });
    expect(await authOf(store)).toBe(basic('ann', 'p@ss'));
    expect(store.uri).toBe(fake.url);
  });

  it('sends no Authorization header without credentials', async () => {
    expect(await authOf(storeOn())).toBeUndefined();
  });

  it('fails fast on a username without a password', () => {
    expect(() => storeOn({ env: { MLFLOW_TRACKING_USERNAME: 'bob' } })).toThrow(/without a password/);
  });

  it('fails fast on bad retry settings', () => {
    expect(() => storeOn({ env: { MLFLOW_HTTP_REQUEST_MAX_RETRIES: 'many' } })).toThrow(/MLFLOW_HTTP_REQUEST_MAX_RETRIES/);
    expect(() => storeOn({ maxRetries: 11 })).toThrow(/maxRetries/);
  });
});
