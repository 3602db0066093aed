/**
 * MLflow REST contract fake: an in-test HTTP server that answers the MLflow REST API 2.0 calls a
 * tracking store makes, following MLflow's documented contract rather than any one server:
 * `{error_code, message}` bodies with MLflow's HTTP statuses (RESOURCE_ALREADY_EXISTS is 400,
 * RESOURCE_DOES_NOT_EXIST 404, INVALID_PARAMETER_VALUE 400), immutable params, log-batch request
 * limits (100 params, 100 tags, 1000 metrics, 1000 entities, 1 MB), `max_results` bounds,
 * page tokens, and NaN/Infinity metric values as protobuf JSON words. It is not MLflow: run search
 * reuses the in-process evaluator of the embedded stores (the filter language is tested there),
 * and it keeps everything in memory.
 *
 * For request tests it records every request, and can be told to answer the next requests with
 * given statuses (to exercise retries) or to require an Authorization header. For outage tests it
 * can go down (connections refused) and come back on the same port with its data, or answer
 * every request 503 TEMPORARILY_UNAVAILABLE while `unavailable` is set, as an MLflow server
 * behind a load balancer does while it restarts.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { searchExperimentList, searchTrackingRunList } from '../../coordinator/src/tracking/search.js';
import type { Experiment, Metric, TrackingRun } from '@tributary/coordinator';

export interface RecordedRequest {
  method: string;
  /** Path without the query. */
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string | string[] | undefined>;
  /** Raw body text ('' for GET). */
  raw: string;
  /** Parsed JSON body (undefined for GET or unparsable bodies). */
  body: unknown;
  /** HTTP status answered, once answered. */
  status?: number;
}

export interface CannedAnswer {
  status: number;
  /** A JSON value, or a raw string sent as text/plain. */
  body?: unknown;
  headers?: Record<string, string>;
}

interface FakeRun {
  info: {
    runId: string;
    experimentId: string;
    runName: string;
    userId: string;
    status: string;
    startTime: number;
    endTime?: number;
    lifecycleStage: string;
    artifactUri: string;
  };
  params: Map<string, string>;
  tags: Map<string, string>;
  /** key -> points in logging order. */
  history: Map<string, Metric[]>;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new ApiError(400, 'INVALID_PARAMETER_VALUE', message);
const notFound = (message: string) => new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', message);

function wordOf(value: number): number | string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

function numberOf(raw: unknown, where: string): number {
  if (typeof raw === 'number') return raw;
  if (raw === 'NaN') return NaN;
  if (raw === 'Infinity') return Infinity;
  if (raw === '-Infinity') return -Infinity;
  if (typeof raw === 'string' && raw.trim() !== '' && !Number.isNaN(Number(raw))) return Number(raw);
  throw invalid(`Invalid value ${JSON.stringify(raw)} for parameter '${where}' supplied.`);
}

function latest(points: readonly Metric[]): Metric | undefined {
  let best: Metric | undefined;
  for (const p of points) {
    if (
      best === undefined ||
      p.step > best.step ||
      (p.step === best.step && (p.timestamp > best.timestamp || (p.timestamp === best.timestamp && p.value > best.value)))
    ) {
      best = p;
    }
  }
  return best;
}

function offsetToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset }), 'utf8').toString('base64');
}

function offsetOf(token: unknown): number {
  if (token === undefined || token === '') return 0;
  try {
    const parsed = JSON.parse(Buffer.from(String(token), 'base64').toString('utf8')) as { offset?: unknown };
    if (typeof parsed.offset === 'number' && parsed.offset >= 0) return parsed.offset;
  } catch {
    // fall through
  }
  throw invalid(`Invalid page token, could not base64-decode`);
}

function maxResultsOf(raw: unknown, fallback: number, ceiling: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > ceiling) {
    throw invalid(`Invalid value for request parameter max_results. It must be at most ${ceiling}, but got value ${String(raw)}`);
  }
  return n;
}

export class MlflowContractFake {
  readonly requests: RecordedRequest[] = [];
  /** When set, requests without exactly this Authorization header get 401. */
  requiredAuthorization: string | undefined;
  /** While set, every request is answered 503 TEMPORARILY_UNAVAILABLE (and not recorded). */
  unavailable = false;
  private port = 0;
  private readonly canned: CannedAnswer[] = [];
  private experiments = new Map<string, Experiment>();
  private runs = new Map<string, FakeRun>();
  private experimentSeq = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<MlflowContractFake> {
    const server = createServer();
    const fake = new MlflowContractFake(server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void fake.handle(req, res));
    fake.reset();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.port = (server.address() as AddressInfo).port;
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Stops listening: connections are refused until comeBack(); the data stays. */
  async goDown(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listens again on the same port, with the data it had. */
  async comeBack(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Forgets everything but the Default experiment (id 0), as a fresh MLflow server. */
  reset(): void {
    this.requests.length = 0;
    this.canned.length = 0;
    this.requiredAuthorization = undefined;
    this.experiments = new Map();
    this.runs = new Map();
    this.experimentSeq = 0;
    this.experiments.set('0', {
      experimentId: '0',
      name: 'Default',
      artifactLocation: 'mlflow-artifacts:/0',
      lifecycleStage: 'active',
      creationTime: 0,
      lastUpdateTime: 0,
      tags: {},
    });
  }

  /** The next requests are answered with these, in order, whatever they ask. */
  answerNext(...answers: CannedAnswer[]): void {
    this.canned.push(...answers);
  }

  /** Recorded requests to one endpoint, e.g. 'runs/log-batch'. */
  requestsTo(endpoint: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === `/api/2.0/mlflow/${endpoint}`);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) {
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    let body: unknown;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      body = undefined;
    }
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}): void => {
      recorded.status = status;
      const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
      res.writeHead(status, {
        'content-type': typeof payload === 'string' ? 'text/plain' : 'application/json',
        ...headers,
      });
      res.end(text);
    };

    const recorded: RecordedRequest = { method: req.method ?? '', path: url.pathname, query, headers: { ...req.headers }, raw, body };
    if (this.unavailable) {
      send(503, { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'The service is temporarily unavailable.' });
      return;
    }
    this.requests.push(recorded);

    const canned = this.canned.shift();
    if (canned !== undefined) {
      send(canned.status, canned.body ?? '', canned.headers);
      return;
    }
    if (this.requiredAuthorization !== undefined && req.headers.authorization !== this.requiredAuthorization) {
      send(401, { error_code: 'UNAUTHENTICATED', message: 'You are not authenticated.' });
      return;
    }
    try {
      const endpoint = url.pathname.replace(/^\/api\/2\.0\/mlflow\//, '');
      const input = req.method === 'GET' ? query : ((body ?? {}) as Record<string, unknown>);
      if (req.method === 'POST' && typeof body !== 'object') throw new ApiError(400, 'MALFORMED_REQUEST', 'Request body is not JSON');
      send(200, this.route(req.method ?? '', endpoint, input, raw));
    } catch (err) {
      if (err instanceof ApiError) send(err.status, { error_code: err.errorCode, message: err.message });
      // The borrowed search evaluator reports bad filters as INVALID_PARAMETER_VALUE, a 400 in MLflow.
      else if ((err as { reason?: unknown }).reason === 'INVALID_PARAMETER_VALUE') {
        send(400, { error_code: 'INVALID_PARAMETER_VALUE', message: (err as Error).message });
      } else send(500, { error_code: 'INTERNAL_ERROR', message: String(err) });
    }
  }

  private route(method: string, endpoint: string, input: Record<string, unknown>, raw: string): unknown {
    const routes: Record<string, [string, () => unknown]> = {
      'experiments/create': ['POST', () => this.createExperiment(input)],
      'experiments/get': ['GET', () => ({ experiment: this.experimentJson(this.experiment(input['experiment_id'])) })],
      'experiments/get-by-name': ['GET', () => ({ experiment: this.experimentJson(this.experimentByName(input['experiment_name'])) })],
      'experiments/search': ['POST', () => this.searchExperiments(input)],
      'experiments/delete': ['POST', () => this.deleteExperiment(input)],
      'runs/create': ['POST', () => this.createRun(input)],
      'runs/get': ['GET', () => ({ run: this.runJson(this.run(input['run_id'])) })],
      'runs/update': ['POST', () => this.updateRun(input)],
      'runs/search': ['POST', () => this.searchRuns(input)],
      'runs/log-batch': ['POST', () => this.logBatch(input, raw)],
      'runs/delete-tag': ['POST', () => this.deleteTag(input)],
      'metrics/get-history': ['GET', () => this.getHistory(input)],
    };
    const route = routes[endpoint];
    if (route === undefined) throw new ApiError(404, 'ENDPOINT_NOT_FOUND', `No API endpoint at ${endpoint}`);
    if (route[0] !== method) throw new ApiError(405, 'BAD_REQUEST', `Method ${method} not allowed for ${endpoint}`);
    return route[1]();
  }

  private experiment(id: unknown): Experiment {
    const e = this.experiments.get(String(id));
    if (e === undefined) throw notFound(`No Experiment with id=${String(id)} exists`);
    return e;
  }

  private experimentByName(name: unknown): Experiment {
    for (const e of this.experiments.values()) if (e.name === name) return e;
    throw notFound(`Could not find experiment with name '${String(name)}'`);
  }

  private run(id: unknown): FakeRun {
    const r = this.runs.get(String(id));
    if (r === undefined) throw notFound(`Run with id=${String(id)} not found`);
    return r;
  }

  /** Writes go to active runs only: a run of a deleted experiment is deleted too. */
  private activeRun(id: unknown): FakeRun {
    const r = this.run(id);
    if (r.info.lifecycleStage !== 'active') throw invalid(`The run ${r.info.runId} must be in the 'active' state. Current state is ${r.info.lifecycleStage}.`);
    return r;
  }

  private createExperiment(input: Record<string, unknown>): unknown {
    const name = input['name'];
    if (typeof name !== 'string' || name === '') throw invalid(`Invalid experiment name: '${String(name)}'`);
    if ([...this.experiments.values()].some((e) => e.name === name)) {
      throw new ApiError(400, 'RESOURCE_ALREADY_EXISTS', `Experiment '${name}' already exists.`);
    }
    const id = String(++this.experimentSeq);
    const now = Date.now();
    const tags = (input['tags'] as Array<{ key: string; value: string }> | undefined) ?? [];
    this.experiments.set(id, {
      experimentId: id,
      name,
      artifactLocation: `mlflow-artifacts:/${id}`,
      lifecycleStage: 'active',
      creationTime: now,
      lastUpdateTime: now,
      tags: Object.fromEntries(tags.map((t) => [t.key, t.value])),
    });
    return { experiment_id: id };
  }

  /** MLflow marks an active experiment and its runs deleted; an unknown or deleted one is RESOURCE_DOES_NOT_EXIST. */
  private deleteExperiment(input: Record<string, unknown>): unknown {
    const id = input['experiment_id'];
    if (typeof id !== 'string' || id === '') throw invalid("Missing value for required parameter 'experiment_id'.");
    const e = this.experiments.get(id);
    if (e === undefined || e.lifecycleStage !== 'active') throw notFound(`No Experiment with id=${id} exists`);
    this.experiments.set(id, { ...e, lifecycleStage: 'deleted', lastUpdateTime: Date.now() });
    for (const r of this.runs.values()) if (r.info.experimentId === id) r.info.lifecycleStage = 'deleted';
    return {};
  }

  private experimentJson(e: Experiment): unknown {
    const tags = Object.entries(e.tags).map(([key, value]) => ({ key, value }));
    return {
      experiment_id: e.experimentId,
      name: e.name,
      artifact_location: e.artifactLocation,
      lifecycle_stage: e.lifecycleStage,
      last_update_time: e.lastUpdateTime,
      creation_time: e.creationTime,
      ...(tags.length > 0 ? { tags } : {}),
    };
  }

  private searchExperiments(input: Record<string, unknown>): unknown {
    const page = searchExperimentList([...this.experiments.values()], {
      maxResults: maxResultsOf(input['max_results'], 1000, 50_000),
      ...(typeof input['filter'] === 'string' ? { filter: input['filter'] } : {}),
      ...(Array.isArray(input['order_by']) ? { orderBy: input['order_by'] as string[] } : {}),
      ...(typeof input['page_token'] === 'string' ? { pageToken: input['page_token'] } : {}),
    });
    return {
      ...(page.experiments.length > 0 ? { experiments: page.experiments.map((e) => this.experimentJson(e)) } : {}),
      ...(page.nextPageToken === undefined ? {} : { next_page_token: page.nextPageToken }),
    };
  }

  private createRun(input: Record<string, unknown>): unknown {
    const experiment = this.experiment(input['experiment_id']);
    if (experiment.lifecycleStage !== 'active') throw invalid(`The experiment ${experiment.experimentId} must be in the 'active' state. Current state is ${experiment.lifecycleStage}.`);
    const tags = new Map(((input['tags'] as Array<{ key: string; value: string }> | undefined) ?? []).map((t) => [t.key, t.value]));
    const given = typeof input['run_name'] === 'string' && input['run_name'] !== '' ? input['run_name'] : undefined;
    const tagged = tags.get('mlflow.runName');
    if (given !== undefined && tagged !== undefined && given !== tagged) {
      throw invalid("Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values");
    }
    const runId = randomUUID().replaceAll('-', '');
    const runName = given ?? tagged ?? `fake-run-${runId.slice(0, 6)}`;
    tags.set('mlflow.runName', runName);
    const run: FakeRun = {
      info: {
        runId,
        experimentId: experiment.experimentId,
        runName,
        userId: typeof input['user_id'] === 'string' ? input['user_id'] : '',
        status: 'RUNNING',
        startTime: Number(input['start_time'] ?? Date.now()),
        lifecycleStage: 'active',
        artifactUri: `mlflow-artifacts:/${experiment.experimentId}/${runId}/artifacts`,
      },
      params: new Map(),
      tags,
      history: new Map(),
    };
    this.runs.set(runId, run);
    return { run: this.runJson(run) };
  }

  private runInfoJson(run: FakeRun): unknown {
    const { info } = run;
    return {
      run_id: info.runId,
      run_uuid: info.runId,
      run_name: info.runName,
      experiment_id: info.experimentId,
      user_id: info.userId,
      status: info.status,
      start_time: info.startTime,
      ...(info.endTime === undefined ? {} : { end_time: info.endTime }),
      artifact_uri: info.artifactUri,
      lifecycle_stage: info.lifecycleStage,
    };
  }

  private runJson(run: FakeRun): unknown {
    const metrics = [...run.history.values()].map(latest).filter((m): m is Metric => m !== undefined);
    const kv = (m: Map<string, string>) => [...m].map(([key, value]) => ({ key, value }));
    return {
      info: this.runInfoJson(run),
      data: {
        ...(metrics.length > 0 ? { metrics: metrics.map((m) => this.metricJson(m)) } : {}),
        ...(run.params.size > 0 ? { params: kv(run.params) } : {}),
        ...(run.tags.size > 0 ? { tags: kv(run.tags) } : {}),
      },
      inputs: {},
    };
  }

  private metricJson(m: Metric): unknown {
    return { key: m.key, value: wordOf(m.value), timestamp: m.timestamp, step: m.step };
  }

  private updateRun(input: Record<string, unknown>): unknown {
    const run = this.activeRun(input['run_id'] ?? input['run_uuid']);
    const status = input['status'] ?? 'RUNNING';
    if (!['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'].includes(String(status))) {
      throw invalid(`Invalid value ${JSON.stringify(status)} for parameter 'status' supplied.`);
    }
    run.info.status = String(status);
    if (input['end_time'] !== undefined) run.info.endTime = Number(input['end_time']);
    if (typeof input['run_name'] === 'string' && input['run_name'] !== '') {
      run.info.runName = input['run_name'];
      run.tags.set('mlflow.runName', input['run_name']);
    }
    return { run_info: this.runInfoJson(run) };
  }

  private searchRuns(input: Record<string, unknown>): unknown {
    const ids = ((input['experiment_ids'] as unknown[] | undefined) ?? []).map(String);
    // run_view_type: ACTIVE_ONLY (the default), DELETED_ONLY or ALL, as MLflow.
    const view = typeof input['run_view_type'] === 'string' ? input['run_view_type'] : 'ACTIVE_ONLY';
    const shown = (r: FakeRun) => view === 'ALL' || (view === 'DELETED_ONLY' ? r.info.lifecycleStage === 'deleted' : r.info.lifecycleStage === 'active');
    const runs = [...this.runs.values()].filter((r) => ids.includes(r.info.experimentId) && shown(r)).map((r) => this.asRun(r));
    const page = searchTrackingRunList(runs, {
      maxResults: maxResultsOf(input['max_results'], 1000, 50_000),
      ...(typeof input['filter'] === 'string' ? { filter: input['filter'] } : {}),
      ...(Array.isArray(input['order_by']) ? { orderBy: input['order_by'] as string[] } : {}),
      ...(typeof input['page_token'] === 'string' ? { pageToken: input['page_token'] } : {}),
    });
    return {
      ...(page.runs.length > 0 ? { runs: page.runs.map((r) => this.runJson(this.run(r.info.runId))) } : {}),
      ...(page.nextPageToken === undefined ? {} : { next_page_token: page.nextPageToken }),
    };
  }

  private asRun(run: FakeRun): TrackingRun {
    const metrics = [...run.history.values()].map(latest).filter((m): m is Metric => m !== undefined);
    return {
      info: {
        runId: run.info.runId,
        experimentId: run.info.experimentId,
        runName: run.info.runName,
        status: run.info.status as TrackingRun['info']['status'],
        startTime: run.info.startTime,
        ...(run.info.endTime === undefined ? {} : { endTime: run.info.endTime }),
        lifecycleStage: 'active',
      },
      data: {
        metrics: Object.fromEntries(metrics.map((m) => [m.key, m])),
        params: Object.fromEntries(run.params),
        tags: Object.fromEntries(run.tags),
      },
    };
  }

  private logBatch(input: Record<string, unknown>, raw: string): unknown {
    if (Buffer.byteLength(raw, 'utf8') > 1_000_000) {
      throw invalid(`Batched logging API requests must be at most 1000000 bytes, got a request of size ${Buffer.byteLength(raw, 'utf8')}.`);
    }
    const run = this.activeRun(input['run_id']);
    const metrics = (input['metrics'] as Array<Record<string, unknown>> | undefined) ?? [];
    const params = (input['params'] as Array<{ key: string; value: string }> | undefined) ?? [];
    const tags = (input['tags'] as Array<{ key: string; value: string }> | undefined) ?? [];
    const limit = (what: string, max: number, n: number): void => {
      if (n > max) {
        throw invalid(
          `A batch logging request can contain at most ${max} ${what}. Got ${n} ${what}. ` +
            `Please split up ${what} across multiple requests and try again.`,
        );
      }
    };
    limit('metrics', 1000, metrics.length);
    limit('params', 100, params.length);
    limit('tags', 100, tags.length);
    limit('metrics, params, and tags', 1000, metrics.length + params.length + tags.length);
    const keys = params.map((p) => p.key);
    const dupes = keys.filter((k, i) => keys.indexOf(k) !== i);
    if (dupes.length > 0) throw invalid(`Duplicate parameter keys have been submitted: ${JSON.stringify(dupes)}.`);
    const points: Metric[] = metrics.map((m, i) => {
      if (m['key'] === undefined || m['value'] === undefined || m['timestamp'] === undefined) {
        throw invalid(`Missing value for required parameter 'metrics[${i}]'.`);
      }
      return {
        key: String(m['key']),
        value: numberOf(m['value'], `metrics[${i}].value`),
        timestamp: Number(m['timestamp']),
        step: Number(m['step'] ?? 0),
      };
    });
    const conflicts = params.filter((p) => run.params.has(p.key) && run.params.get(p.key) !== p.value);
    if (conflicts.length > 0) {
      throw invalid(
        `Changing param values is not allowed. Params were already logged='${JSON.stringify(
          conflicts.map((p) => ({ key: p.key, old_value: run.params.get(p.key), new_value: p.value })),
        )}' for run ID='${run.info.runId}'.`,
      );
    }
    for (const p of params) run.params.set(p.key, p.value);
    for (const point of points) {
      const history = run.history.get(point.key) ?? [];
      const same = history.some(
        (h) => h.step === point.step && h.timestamp === point.timestamp && Object.is(h.value, point.value),
      );
      if (!same) history.push(point);
      run.history.set(point.key, history);
    }
    for (const t of tags) {
      run.tags.set(t.key, t.value);
      if (t.key === 'mlflow.runName') run.info.runName = t.value;
    }
    return {};
  }

  private deleteTag(input: Record<string, unknown>): unknown {
    const run = this.activeRun(input['run_id']);
    const key = String(input['key']);
    if (!run.tags.has(key)) throw notFound(`No tag with name: ${key} in run with id ${run.info.runId}`);
    run.tags.delete(key);
    return {};
  }

  private getHistory(input: Record<string, unknown>): unknown {
    const run = this.run(input['run_id'] ?? input['run_uuid']);
    const points = [...(run.history.get(String(input['metric_key'])) ?? [])].sort(
      (a, b) => a.step - b.step || a.timestamp - b.timestamp || a.value - b.value,
    );
    const max = maxResultsOf(input['max_results'], 25_000, 25_000);
    const offset = offsetOf(input['page_token']);
    const page = points.slice(offset, offset + max);
    return {
      ...(page.length > 0 ? { metrics: page.map((m) => this.metricJson(m)) } : {}),
      ...(offset + max < points.length ? { next_page_token: offsetToken(offset + max) } : {}),
    };
  }
}
