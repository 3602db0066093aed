import { setTimeout as sleep } from 'node:timers/promises';
import { Reason, TributaryError, decodeMetricValue, encodeMetricValue } from '@tributary/proto';
import { mlflowErrorOfHttpStatus, reasonOfMlflowError } from './errors.js';
import { TRACKING_RUN_STATUSES } from './store.js';
import type {
  CreateTrackingRunOptions,
  Experiment,
  ExperimentsPage,
  LifecycleStage,
  LogBatchInput,
  Metric,
  MetricHistoryPage,
  PageOptions,
  Param,
  TrackingRun,
  TrackingRunInfo,
  TrackingRunStatus,
  TrackingRunTag,
  TrackingRunsPage,
  SearchExperimentsOptions,
  SearchTrackingRunsOptions,
  TrackingStore,
  UpdateTrackingRunOptions,
} from './store.js';
import {
  TrackingLimits,
  normaliseBatch,
  validateExperimentId,
  validateExperimentName,
  validateExperimentTags,
  validateHistoryMaxResults,
  validateMetricKey,
  validateOptionalTrackingRunName,
  validateTrackingRunId,
  validateTrackingRunStatus,
  validateTrackingRunTags,
  validateSearchMaxResults,
  validateTagKey,
  validateTime,
} from './validation.js';
import type { NormalisedBatch } from './validation.js';

/** Where MLflow's REST API 2.0 lives under the tracking server's address. */
export const MLFLOW_API_PREFIX = '/api/2.0/mlflow';

/** HTTP statuses worth another try (MLflow's `_TRANSIENT_FAILURE_RESPONSE_CODES`). */
const RETRY_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);
/** Statuses whose Retry-After header is honoured (as urllib3 does). */
const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([413, 429, 503]);

export interface MlflowRestStoreOptions {
  /** The tracking server, `http(s)://host[:port][/path]`; user:password in it means basic auth. */
  uri: string;
  /** Bearer token. @default env MLFLOW_TRACKING_TOKEN */
  token?: string;
  /**
   * Basic auth, used when both are set (before a token, as MLflow does).
   * @default env MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD
   */
  username?: string;
  password?: string;
  /** Retries after the first attempt. @default env MLFLOW_HTTP_REQUEST_MAX_RETRIES, else 7 */
  maxRetries?: number;
  /** Backoff before retry n is factor x 2^(n-1). @default env MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR (s), else 2000 ms */
  backoffFactorMs?: number;
  /**
   * Up to this much random delay is added to each backoff.
   * @default env MLFLOW_HTTP_REQUEST_BACKOFF_JITTER (s), else 1000 ms
   */
  backoffJitterMs?: number;
  /** No single wait (backoff or Retry-After) is longer. @default 120000 ms */
  maxBackoffMs?: number;
  /** Per attempt. @default env MLFLOW_HTTP_REQUEST_TIMEOUT (s), else 120000 ms */
  timeoutMs?: number;
  /** Extra request headers. */
  headers?: Readonly<Record<string, string>>;
  /** @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

interface ResolvedOptions {
  readonly baseUrl: string;
  readonly authorization: string | undefined;
  readonly maxRetries: number;
  readonly backoffFactorMs: number;
  readonly backoffJitterMs: number;
  readonly maxBackoffMs: number;
  readonly timeoutMs: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly fetch: typeof fetch;
}

function badOption(message: string): TributaryError {
  return TributaryError.invalidArgument(`MLflow tracking store: ${message}`);
}

function envNumber(env: Readonly<Record<string, string | undefined>>, name: string, scale: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw badOption(`${name}=${raw} is not a number`);
  return n * scale;
}

function checkedNumber(name: string, value: number, min: number, max: number, integer = false): number {
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw badOption(`${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${value}`);
  }
  return value;
}

function resolveOptions(options: MlflowRestStoreOptions): ResolvedOptions {
  const env = options.env ?? process.env;
  let url: URL;
  try {
    url = new URL(options.uri);
  } catch {
    throw badOption(`"${options.uri}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw badOption(`"${options.uri}" must be an http:// or https:// address`);
  }
  const fromUrl = url.username !== '' || url.password !== '';
  const urlUser = decodeURIComponent(url.username);
  const urlPassword = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';

  // Explicit credentials (options or URL) replace the environment's as a whole.
  const explicit =
    options.token !== undefined || options.username !== undefined || options.password !== undefined || fromUrl;
  const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);
  const username = explicit
    ? nonEmpty(options.username) ?? nonEmpty(urlUser)
    : nonEmpty(env['MLFLOW_TRACKING_USERNAME']);
  const password = explicit
    ? nonEmpty(options.password) ?? nonEmpty(urlPassword)
    : nonEmpty(env['MLFLOW_TRACKING_PASSWORD']);
  const token = explicit ? nonEmpty(options.token) : nonEmpty(env['MLFLOW_TRACKING_TOKEN']);
  let authorization: string | undefined;
  if (username !== undefined && password !== undefined) {
    authorization = 'Basic ' + Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
  } else if (token !== undefined) {
    authorization = `Bearer ${token}`;
  } else if (username !== undefined || password !== undefined) {
    throw badOption(
      username === undefined
        ? 'a password is set without a username (MLFLOW_TRACKING_USERNAME)'
        : 'a username is set without a password (MLFLOW_TRACKING_PASSWORD)',
    );
  }

  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw badOption('no fetch implementation (Node >= 20 provides one)');
  return {
    baseUrl: url.toString().replace(/\/+$/, ''),
    authorization,
    maxRetries: checkedNumber(
      'maxRetries',
      options.maxRetries ?? envNumber(env, 'MLFLOW_HTTP_REQUEST_MAX_RETRIES', 1) ?? 7,
      0,
      10,
      true,
    ),
    backoffFactorMs: checkedNumber(
      'backoffFactorMs',
      options.backoffFactorMs ?? envNumber(env, 'MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR', 1000) ?? 2000,
      0,
      120_000,
    ),
    backoffJitterMs: checkedNumber(
      'backoffJitterMs',
      options.backoffJitterMs ?? envNumber(env, 'MLFLOW_HTTP_REQUEST_BACKOFF_JITTER', 1000) ?? 1000,
      0,
      120_000,
    ),
    maxBackoffMs: checkedNumber('maxBackoffMs', options.maxBackoffMs ?? 120_000, 0, 3_600_000),
    timeoutMs: checkedNumber(
      'timeoutMs',
      options.timeoutMs ?? envNumber(env, 'MLFLOW_HTTP_REQUEST_TIMEOUT', 1000) ?? 120_000,
      1,
      3_600_000,
    ),
    headers: { ...(options.headers ?? {}) },
    fetch: fetchImpl,
  };
}

type Json = Record<string, unknown>;

/** One log-batch request body, as MLflow's client builds it. */
interface LogBatchBody {
  run_id: string;
  metrics: Json[];
  params: Param[];
  tags: TrackingRunTag[];
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/**
 * Splits a batch as MLflow's client does: params and tags in chunks of 100 side by side, each
 * request topped up with metrics to 1000 entities, the remaining metrics 1000 a request; then
 * any request over 1 MB of JSON is cut, in order, into requests that fit.
 */
export function splitLogBatch(runId: string, batch: NormalisedBatch): LogBatchBody[] {
  const metrics = batch.metrics.map((m) => ({
    key: m.key,
    value: encodeMetricValue(m.value),
    timestamp: m.timestamp,
    step: m.step,
  }));
  const paramChunks = chunk(batch.params, TrackingLimits.MAX_PARAMS_TAGS_PER_BATCH);
  const tagChunks = chunk(batch.tags, TrackingLimits.MAX_PARAMS_TAGS_PER_BATCH);
  const bodies: LogBatchBody[] = [];
  let next = 0;
  for (let i = 0; i < Math.max(paramChunks.length, tagChunks.length); i++) {
    const params = paramChunks[i] ?? [];
    const tags = tagChunks[i] ?? [];
    const room = Math.max(
      0,
      Math.min(TrackingLimits.MAX_ENTITIES_PER_BATCH - params.length - tags.length, TrackingLimits.MAX_METRICS_PER_BATCH),
    );
    bodies.push({ run_id: runId, metrics: metrics.slice(next, next + room), params, tags });
    next += room;
  }
  for (const rest of chunk(metrics.slice(next), TrackingLimits.MAX_METRICS_PER_BATCH)) {
    bodies.push({ run_id: runId, metrics: rest, params: [], tags: [] });
  }
  return bodies.flatMap(fitRequestSize);
}

function fitRequestSize(body: LogBatchBody): LogBatchBody[] {
  const limit = TrackingLimits.MAX_BATCH_LOG_REQUEST_SIZE;
  if (jsonBytes(logBatchJson(body)) <= limit) return [body];
  // Sizes are summed per entity (plus a comma), an upper bound of the real JSON length.
  const empty = (): LogBatchBody => ({ run_id: body.run_id, metrics: [], params: [], tags: [] });
  const base = jsonBytes(empty());
  const out: LogBatchBody[] = [];
  let current = empty();
  let size = base;
  const add = (kind: 'metrics' | 'params' | 'tags', entity: Json | Param | TrackingRunTag): void => {
    const bytes = jsonBytes(entity) + 1;
    if (base + bytes > limit) {
      throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, `one ${kind.slice(0, -1)} is larger than MLflow's ${limit}-byte request limit`);
    }
    if (size + bytes > limit) {
      out.push(current);
      current = empty();
      size = base;
    }
    (current[kind] as unknown[]).push(entity);
    size += bytes;
  };
  for (const p of body.params) add('params', p);
  for (const t of body.tags) add('tags', t);
  for (const m of body.metrics) add('metrics', m);
  out.push(current);
  return out;
}

// Empty lists are left out, as protobuf's JSON printer does.
function logBatchJson(body: LogBatchBody): Json {
  return {
    run_id: body.run_id,
    ...(body.metrics.length > 0 ? { metrics: body.metrics } : {}),
    ...(body.params.length > 0 ? { params: body.params } : {}),
    ...(body.tags.length > 0 ? { tags: body.tags } : {}),
  };
}

/**
 * A tracking store on an MLflow tracking server, through its REST API 2.0 (`http://`, `https://`).
 * Requests are retried on 408, 429 and 5xx and on network failures, with exponential backoff and
 * jitter, as MLflow's client does; `{error_code, message}` answers become TributaryErrors with the
 * matching reason (see `reasonOfMlflowError`).
 */
export class MlflowRestStore implements TrackingStore {
  private readonly options: ResolvedOptions;
  private readonly closing = new AbortController();

  private constructor(options: MlflowRestStoreOptions) {
    this.options = resolveOptions(options);
  }

  /** Validates the options (fails fast on bad ones); sends nothing yet. */
  static create(options: MlflowRestStoreOptions): MlflowRestStore {
    return new MlflowRestStore(options);
  }

  /** The server's address, without credentials. */
  get uri(): string {
    return this.options.baseUrl;
  }

  async close(): Promise<void> {
    this.closing.abort();
  }

  async createExperiment(name: string, tags?: Record<string, string>): Promise<string> {
    const checkedTags = validateExperimentTags(tags);
    const res = await this.call('POST', 'experiments/create', {
      name: validateExperimentName(name),
      ...(checkedTags.length > 0 ? { tags: checkedTags } : {}),
    });
    return idString(res['experiment_id'], 'experiment_id');
  }

  async getExperiment(experimentId: string): Promise<Experiment> {
    const res = await this.call('GET', 'experiments/get', { experiment_id: validateExperimentId(experimentId) });
    return decodeExperiment(res['experiment']);
  }

  async getExperimentByName(name: string): Promise<Experiment> {
    const res = await this.call('GET', 'experiments/get-by-name', { experiment_name: validateExperimentName(name) });
    return decodeExperiment(res['experiment']);
  }

  async deleteExperiment(experimentId: string): Promise<void> {
    await this.call('POST', 'experiments/delete', { experiment_id: validateExperimentId(experimentId) });
  }

  async searchExperiments(options: SearchExperimentsOptions = {}): Promise<ExperimentsPage> {
    const res = await this.call('POST', 'experiments/search', {
      max_results: validateSearchMaxResults(options.maxResults),
      ...pageToken(options.pageToken),
      ...(options.filter ? { filter: options.filter } : {}),
      ...(options.orderBy && options.orderBy.length > 0 ? { order_by: [...options.orderBy] } : {}),
      view_type: 'ACTIVE_ONLY',
    });
    const experiments = list(res['experiments'], 'experiments').map(decodeExperiment);
    return withToken({ experiments }, res['next_page_token']);
  }

  async createRun(options: CreateTrackingRunOptions): Promise<TrackingRun> {
    const tags = validateTrackingRunTags(options.tags);
    const res = await this.call('POST', 'runs/create', {
      experiment_id: validateExperimentId(options.experimentId),
      ...(options.userId === undefined ? {} : { user_id: options.userId }),
      start_time: validateTime('start_time', options.startTime ?? Date.now()),
      ...(tags.length > 0 ? { tags } : {}),
      run_name: validateOptionalTrackingRunName(options.runName), // absent from the JSON when undefined
    });
    return decodeTrackingRun(res['run']);
  }

  async getRun(runId: string): Promise<TrackingRun> {
    const res = await this.call('GET', 'runs/get', { run_id: validateTrackingRunId(runId) });
    return decodeTrackingRun(res['run']);
  }

  async updateRun(runId: string, update: UpdateTrackingRunOptions): Promise<TrackingRunInfo> {
    validateTrackingRunId(runId);
    // The API always sets a status: keep the current one when none is given, as MLflow's client does.
    const status = update.status === undefined ? (await this.getRun(runId)).info.status : validateTrackingRunStatus(update.status);
    const res = await this.call('POST', 'runs/update', {
      run_id: runId,
      status,
      ...(update.endTime === undefined ? {} : { end_time: validateTime('end_time', update.endTime) }),
      run_name: validateOptionalTrackingRunName(update.runName), // absent from the JSON when undefined
    });
    return decodeTrackingRunInfo(res['run_info'], {});
  }

  async searchRuns(options: SearchTrackingRunsOptions): Promise<TrackingRunsPage> {
    if (!Array.isArray(options?.experimentIds)) throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, 'experiment_ids must be a list of experiment ids');
    const res = await this.call('POST', 'runs/search', {
      experiment_ids: options.experimentIds.map(validateExperimentId),
      ...(options.filter ? { filter: options.filter } : {}),
      run_view_type: 'ACTIVE_ONLY',
      max_results: validateSearchMaxResults(options.maxResults),
      ...(options.orderBy && options.orderBy.length > 0 ? { order_by: [...options.orderBy] } : {}),
      ...pageToken(options.pageToken),
    });
    const runs = list(res['runs'], 'runs').map(decodeTrackingRun);
    return withToken({ runs }, res['next_page_token']);
  }

  async logBatch(runId: string, batch: LogBatchInput): Promise<void> {
    validateTrackingRunId(runId);
    // Everything is checked before the first request, so a bad entity fails the whole batch.
    const normalised = normaliseBatch(batch, Date.now());
    for (const body of splitLogBatch(runId, normalised)) {
      await this.call('POST', 'runs/log-batch', logBatchJson(body));
    }
  }

  async getMetricHistory(runId: string, key: string, options: PageOptions = {}): Promise<MetricHistoryPage> {
    const metricKey = validateMetricKey(key);
    const res = await this.call('GET', 'metrics/get-history', {
      run_id: validateTrackingRunId(runId),
      metric_key: metricKey,
      max_results: validateHistoryMaxResults(options.maxResults),
      ...pageToken(options.pageToken),
    });
    const metrics = list(res['metrics'], 'metrics').map(decodeMetric);
    return withToken({ metrics }, res['next_page_token']);
  }

  async deleteTag(runId: string, key: string): Promise<void> {
    await this.call('POST', 'runs/delete-tag', { run_id: validateTrackingRunId(runId), key: validateTagKey(key) });
  }

  /** One API call with MLflow's retry policy; the parsed JSON object of a 200 answer. */
  private async call(method: 'GET' | 'POST', endpoint: string, body: Json): Promise<Json> {
    if (this.closing.signal.aborted) {
      throw TributaryError.of(Reason.TRACKING_STORE_CLOSED, 'the tracking store is closed');
    }
    const { options } = this;
    let url = `${options.baseUrl}${MLFLOW_API_PREFIX}/${endpoint}`;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': 'tributary-coordinator',
      ...options.headers,
    };
    if (options.authorization !== undefined) headers['authorization'] = options.authorization;
    let payload: string | undefined;
    if (method === 'GET') {
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(body)) {
        if (v === undefined) continue;
        for (const item of Array.isArray(v) ? v : [v]) query.append(k, String(item));
      }
      url += `?${query.toString()}`;
    } else {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const what = `${method} ${MLFLOW_API_PREFIX}/${endpoint}`;

    for (let attempt = 0; ; attempt++) {
      let response: Response | undefined;
      let failure: unknown;
      try {
        response = await options.fetch(url, {
          method,
          headers,
          ...(payload === undefined ? {} : { body: payload }),
          signal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(options.timeoutMs)]),
        });
      } catch (err) {
        if (this.closing.signal.aborted) throw closedDuring(what, err);
        failure = err;
      }
      if (response !== undefined && !RETRY_STATUSES.has(response.status)) return readAnswer(response, what);
      if (attempt >= options.maxRetries) {
        if (response !== undefined) return readAnswer(response, what);
        throw unreachable(what, options.baseUrl, attempt + 1, failure);
      }
      let delay = this.backoff(attempt + 1);
      if (response !== undefined) {
        const retryAfter = RETRY_AFTER_STATUSES.has(response.status)
          ? parseRetryAfter(response.headers.get('retry-after'))
          : undefined;
        if (retryAfter !== undefined) delay = Math.min(retryAfter, options.maxBackoffMs);
        await response.body?.cancel().catch(() => undefined);
      }
      try {
        await sleep(delay, undefined, { signal: this.closing.signal });
      } catch (err) {
        throw closedDuring(what, err);
      }
    }
  }

  // urllib3's schedule: factor x 2^(n-1) plus up to `jitter`, capped.
  private backoff(retry: number): number {
    const { backoffFactorMs, backoffJitterMs, maxBackoffMs } = this.options;
    const value = backoffFactorMs * 2 ** (retry - 1) + Math.random() * backoffJitterMs;
    return Math.max(0, Math.min(maxBackoffMs, value));
  }
}

function pageToken(token: string | undefined): { page_token?: string } {
  return token === undefined || token === '' ? {} : { page_token: token };
}

function withToken<T extends object>(page: T, token: unknown): T & { nextPageToken?: string } {
  return typeof token === 'string' && token !== '' ? { ...page, nextPageToken: token } : page;
}

/** Seconds, or an HTTP date; in ms. */
function parseRetryAfter(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function closedDuring(what: string, cause: unknown): TributaryError {
  return TributaryError.of(Reason.TRACKING_STORE_CLOSED, `${what} was abandoned: the tracking store is closed`, { cause });
}

function unreachable(what: string, baseUrl: string, attempts: number, cause: unknown): TributaryError {
  const timedOut = (cause as { name?: unknown } | undefined)?.name === 'TimeoutError';
  // fetch's own message is "fetch failed"; the reason (ECONNREFUSED, ...) is its cause.
  const inner = cause instanceof Error && cause.cause instanceof Error ? cause.cause : cause;
  const detail = inner instanceof Error ? inner.message : String(inner);
  return TributaryError.of(
    Reason.TEMPORARILY_UNAVAILABLE,
    `MLflow tracking server ${baseUrl}: ${what} failed after ${attempts} attempt(s): ${detail}`,
    { cause, ...(timedOut ? { code: 'DEADLINE_EXCEEDED' } : {}) },
  );
}

async function readAnswer(response: Response, what: string): Promise<Json> {
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const object = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Json) : undefined;
  if (response.status === 200) {
    if (object === undefined) {
      throw TributaryError.of(Reason.INTERNAL_ERROR, `${what} succeeded but the answer is not a JSON object: '${text.slice(0, 200)}'`);
    }
    return object;
  }
  if (object !== undefined && (typeof object['error_code'] === 'string' || typeof object['message'] === 'string')) {
    const errorCode = mlflowErrorOf(object['error_code'], response.status);
    const message = typeof object['message'] === 'string' ? object['message'] : `${what} failed: ${text.slice(0, 500)}`;
    throw TributaryError.of(reasonOfMlflowError(errorCode), message, {
      details: { httpStatus: response.status, endpoint: what, errorCode },
    });
  }
  const errorCode = mlflowErrorOfHttpStatus(response.status);
  throw TributaryError.of(
    reasonOfMlflowError(errorCode),
    `${what} failed with HTTP ${response.status}${text === '' ? '' : `: ${text.slice(0, 500)}`}`,
    { details: { httpStatus: response.status, endpoint: what, errorCode } },
  );
}

/** The MLflow error code of an error answer. */
function mlflowErrorOf(errorCode: unknown, status: number): string {
  if (typeof errorCode === 'string' && /^\d{3}$/.test(errorCode)) return mlflowErrorOfHttpStatus(Number(errorCode));
  // A 409 is how some servers and proxies say "already exists".
  if (status === 409 && (errorCode === undefined || errorCode === 'ALREADY_EXISTS')) return 'RESOURCE_ALREADY_EXISTS';
  return typeof errorCode === 'string' && errorCode !== '' ? errorCode : mlflowErrorOfHttpStatus(status);
}

// Decoding answers: MLflow writes int64 fields as numbers (older servers as strings) and leaves
// out unset fields and empty lists.

function malformed(message: string): TributaryError {
  return TributaryError.of(Reason.INTERNAL_ERROR, `unexpected answer from MLflow: ${message}`);
}

function object(raw: unknown, what: string): Json {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw malformed(`${what} is not an object`);
  return raw as Json;
}

function list(raw: unknown, what: string): unknown[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw malformed(`${what} is not a list`);
  return raw;
}

function stringField(raw: unknown, what: string): string {
  if (typeof raw !== 'string') throw malformed(`${what} is not a string`);
  return raw;
}

function idString(raw: unknown, what: string): string {
  if (typeof raw === 'number' && Number.isInteger(raw)) return String(raw);
  return stringField(raw, what);
}

function int64(raw: unknown, what: string): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  const n = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw malformed(`${what} is not an integer`);
  return n;
}

function keyValues(raw: unknown, what: string): Record<string, string> {
  return Object.fromEntries(
    list(raw, what).map((entry, i) => {
      const o = object(entry, `${what}[${i}]`);
      return [stringField(o['key'], `${what}[${i}].key`), typeof o['value'] === 'string' ? o['value'] : ''];
    }),
  );
}

function lifecycle(raw: unknown): LifecycleStage {
  return raw === 'deleted' ? 'deleted' : 'active';
}

function decodeExperiment(raw: unknown): Experiment {
  const o = object(raw, 'experiment');
  const creationTime = int64(o['creation_time'], 'experiment.creation_time');
  const lastUpdateTime = int64(o['last_update_time'], 'experiment.last_update_time');
  return {
    experimentId: idString(o['experiment_id'], 'experiment.experiment_id'),
    name: stringField(o['name'], 'experiment.name'),
    artifactLocation: typeof o['artifact_location'] === 'string' ? o['artifact_location'] : '',
    lifecycleStage: lifecycle(o['lifecycle_stage']),
    ...(creationTime === undefined ? {} : { creationTime }),
    ...(lastUpdateTime === undefined ? {} : { lastUpdateTime }),
    tags: keyValues(o['tags'], 'experiment.tags'),
  };
}

function decodeMetric(raw: unknown): Metric {
  const o = object(raw, 'metric');
  const value = o['value'] === undefined ? 0 : decodeMetricValue(o['value']);
  if (value === undefined) throw malformed(`metric value ${JSON.stringify(o['value'])} is not a number`);
  return {
    key: stringField(o['key'], 'metric.key'),
    value,
    timestamp: int64(o['timestamp'], 'metric.timestamp') ?? 0,
    step: int64(o['step'], 'metric.step') ?? 0,
  };
}

function decodeTrackingRunInfo(raw: unknown, tags: Record<string, string>): TrackingRunInfo {
  const o = object(raw, 'run info');
  const runId = o['run_id'] ?? o['run_uuid'];
  const endTime = int64(o['end_time'], 'run.info.end_time');
  const status = o['status'] ?? 'RUNNING';
  if (!(TRACKING_RUN_STATUSES as readonly unknown[]).includes(status)) {
    throw malformed(`run status ${JSON.stringify(status)} is unknown`);
  }
  const nameTag = Object.hasOwn(tags, 'mlflow.runName') ? tags['mlflow.runName'] : undefined;
  return {
    runId: stringField(runId, 'run.info.run_id'),
    experimentId: idString(o['experiment_id'], 'run.info.experiment_id'),
    runName: typeof o['run_name'] === 'string' ? o['run_name'] : nameTag ?? '',
    status: status as TrackingRunStatus,
    startTime: int64(o['start_time'], 'run.info.start_time') ?? 0,
    ...(endTime === undefined ? {} : { endTime }),
    lifecycleStage: lifecycle(o['lifecycle_stage']),
    ...(typeof o['user_id'] === 'string' && o['user_id'] !== '' ? { userId: o['user_id'] } : {}),
    ...(typeof o['artifact_uri'] === 'string' && o['artifact_uri'] !== '' ? { artifactUri: o['artifact_uri'] } : {}),
  };
}

function decodeTrackingRun(raw: unknown): TrackingRun {
  const o = object(raw, 'run');
  const data = o['data'] === undefined ? {} : object(o['data'], 'run.data');
  const tags = keyValues(data['tags'], 'run.data.tags');
  return {
    info: decodeTrackingRunInfo(o['info'], tags),
    data: {
      metrics: Object.fromEntries(list(data['metrics'], 'run.data.metrics').map(decodeMetric).map((m) => [m.key, m])),
      params: keyValues(data['params'], 'run.data.params'),
      tags,
    },
  };
}
