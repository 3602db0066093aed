import { Reason, TributaryError } from '@tributary/proto';
import { TRACKING_RUN_STATUSES } from './store.js';
import type { LogBatchInput, Metric, MetricInput, Param, TrackingRunStatus, TrackingRunTag } from './store.js';

/** MLflow's limits (`mlflow/utils/validation.py`), enforced the same way by every store. */
export const TrackingLimits = {
  /** Params, and tags, in one MLflow log-batch request. */
  MAX_PARAMS_TAGS_PER_BATCH: 100,
  /** Metrics in one MLflow log-batch request. */
  MAX_METRICS_PER_BATCH: 1000,
  /** Metrics, params and tags together in one MLflow log-batch request. */
  MAX_ENTITIES_PER_BATCH: 1000,
  /** Bytes of one JSON log-batch request (MLflow's documented 1 MB). */
  MAX_BATCH_LOG_REQUEST_SIZE: 1_000_000,
  MAX_ENTITY_KEY_LENGTH: 250,
  MAX_PARAM_VAL_LENGTH: 6000,
  MAX_TAG_VAL_LENGTH: 5000,
  MAX_EXPERIMENT_NAME_LENGTH: 500,
  MAX_EXPERIMENT_TAG_KEY_LENGTH: 250,
  MAX_EXPERIMENT_TAG_VAL_LENGTH: 5000,
  /** search-runs and search-experiments `max_results` ceiling, and their default. */
  SEARCH_MAX_RESULTS_THRESHOLD: 50_000,
  SEARCH_MAX_RESULTS_DEFAULT: 1000,
  /** get-history page ceiling and default. */
  GET_METRIC_HISTORY_MAX_RESULTS: 25_000,
} as const;

/** The tag MLflow keeps equal to the run's name. */
export const RUN_NAME_TAG = 'mlflow.runName';

// Slashes, alphanumerics, underscores, periods, dashes and spaces, as MLflow allows.
const VALID_KEY = /^[/\w.\- ]*$/;
const RUN_ID = /^[a-zA-Z0-9][\w-]{0,255}$/;
const EXPERIMENT_ID = /^[a-zA-Z0-9][\w-]{0,63}$/;

function isPlainString(v: unknown): v is string {
  return typeof v === 'string';
}

// Names are file-like in MLflow: they must not resolve to another name as a POSIX path.
function resolvesElsewhere(name: string): boolean {
  if (name.startsWith('/') || name === '' || name === '.' || name.startsWith('..')) return true;
  const parts = name.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return true;
  return false;
}

// Keys already found valid: metric batches repeat a few keys many times over.
const validKeys = new Set<string>();

function validateKey(kind: 'metric' | 'param' | 'tag', key: unknown, where: string): string {
  const label = kind === 'param' ? 'parameter' : kind;
  if (!isPlainString(key) || key === '') {
    throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, `${where}: ${label} name is missing. A key name must be provided.`);
  }
  if (validKeys.has(key)) return key;
  if (!VALID_KEY.test(key)) {
    throw TributaryError.of(
      Reason.INVALID_PARAMETER_VALUE,
      `${where}: invalid ${label} name '${key}'. Names may only contain alphanumerics, ` +
        'underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).',
    );
  }
  if (resolvesElsewhere(key)) {
    throw TributaryError.of(
      Reason.INVALID_PARAMETER_VALUE,
      `${where}: invalid ${label} name '${key}'. Names may be treated as files in certain cases, ` +
        'and must not resolve to other names when treated as such.',
    );
  }
  checkLength(`${where}: ${capitalise(kind)} key`, key, TrackingLimits.MAX_ENTITY_KEY_LENGTH);
  if (validKeys.size >= 10_000) validKeys.clear();
  validKeys.add(key);
  return key;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function checkLength(what: string, value: string, limit: number): void {
  if (value.length > limit) {
    throw TributaryError.of(
      Reason.INVALID_PARAMETER_VALUE,
      `${what} '${value.slice(0, 250)}' had length ${value.length}, which exceeded length limit of ${limit}`,
    );
  }
}

/** A metric ready to store: key checked, timestamp and step defaulted and checked. */
export function normaliseMetric(m: MetricInput, where: string, now: number): Metric {
  const key = validateKey('metric', m?.key, where);
  const { value } = m;
  if (typeof value !== 'number') {
    throw TributaryError.of(
      Reason.INVALID_PARAMETER_VALUE,
      `${where}: got invalid value ${String(value)} for metric '${key}'. ` +
        'Please specify value as a valid double (64-bit floating point)',
    );
  }
  const timestamp = m.timestamp ?? now;
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw TributaryError.of(
      Reason.INVALID_PARAMETER_VALUE,
      `${where}: got invalid timestamp ${String(timestamp)} for metric '${key}'. ` +
        'Timestamp must be a nonnegative integer (milliseconds since the epoch)',
    );
  }
  const step = m.step ?? 0;
  if (!Number.isSafeInteger(step)) {
    throw TributaryError.of(
      Reason.INVALID_PARAMETER_VALUE,
      `${where}: got invalid step ${String(step)} for metric '${key}'. Step must be an integer`,
    );
  }
  return { key, value, timestamp, step };
}

export function validateParam(p: Param, where: string): Param {
  const key = validateKey('param', p?.key, where);
  if (!isPlainString(p.value)) throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, `${where}: param '${key}' value must be a string`);
  checkLength(`${where}: Param value`, p.value, TrackingLimits.MAX_PARAM_VAL_LENGTH);
  return { key, value: p.value };
}

export function validateTag(t: TrackingRunTag, where: string): TrackingRunTag {
  const key = validateKey('tag', t?.key, where);
  if (!isPlainString(t.value)) throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, `${where}: tag '${key}' value must be a string`);
  checkLength(`${where}: Tag value`, t.value, TrackingLimits.MAX_TAG_VAL_LENGTH);
  return { key, value: t.value };
}

export function validateTagKey(key: unknown): string {
  return validateKey('tag', key, 'tag');
}

export function validateMetricKey(key: unknown): string {
  return validateKey('metric', key, 'metric');
}

export interface NormalisedBatch {
  metrics: Metric[];
  params: Param[];
  tags: TrackingRunTag[];
}

/**
 * Checks every entity of a batch (names, lengths, numbers) and refuses duplicate param keys, as
 * MLflow's `log_batch` does; fills in metric timestamps and steps.
 */
export function normaliseBatch(batch: LogBatchInput, now: number): NormalisedBatch {
  if (typeof batch !== 'object' || batch === null) throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, 'log batch must be an object');
  const metrics = (batch.metrics ?? []).map((m, i) => normaliseMetric(m, `metrics[${i}]`, now));
  const params = (batch.params ?? []).map((p, i) => validateParam(p, `params[${i}]`));
  const tags = (batch.tags ?? []).map((t, i) => validateTag(t, `tags[${i}]`));
  const seen = new Set<string>();
  const dupes = new Set<string>();
  for (const p of params) {
    if (seen.has(p.key)) dupes.add(p.key);
    seen.add(p.key);
  }
  if (dupes.size > 0) {
    throw TributaryError.of(
      Reason.INVALID_PARAMETER_VALUE,
      `Duplicate parameter keys have been submitted: ${JSON.stringify([...dupes])}. ` +
        'Please ensure the request contains only one param value per param key.',
    );
  }
  return { metrics, params, tags };
}

/** The tags of a new run, checked as tags of a batch are. */
export function validateTrackingRunTags(tags: Record<string, string> | undefined): TrackingRunTag[] {
  return Object.entries(tags ?? {}).map(([key, value], i) => validateTag({ key, value }, `tags[${i}]`));
}

export function validateExperimentName(name: unknown): string {
  if (!isPlainString(name) || name === '') {
    throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, `Invalid experiment name: '${String(name)}'`);
  }
  if (name.length > TrackingLimits.MAX_EXPERIMENT_NAME_LENGTH) {
    throw TributaryError.of(
      Reason.INVALID_PARAMETER_VALUE,
      `Experiment name exceeds the maximum length of ${TrackingLimits.MAX_EXPERIMENT_NAME_LENGTH} characters`,
    );
  }
  return name;
}

export function validateExperimentTags(tags: Record<string, string> | undefined): TrackingRunTag[] {
  return Object.entries(tags ?? {}).map(([key, value], i) => {
    validateKey('tag', key, `experiment tags[${i}]`);
    if (!isPlainString(value)) throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, `experiment tag '${key}' value must be a string`);
    checkLength('Tag key', key, TrackingLimits.MAX_EXPERIMENT_TAG_KEY_LENGTH);
    checkLength('Tag value', value, TrackingLimits.MAX_EXPERIMENT_TAG_VAL_LENGTH);
    return { key, value };
  });
}

export function validateTrackingRunId(runId: unknown): string {
  if (!isPlainString(runId) || !RUN_ID.test(runId)) {
    throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, `Invalid run ID: '${String(runId)}'`);
  }
  return runId;
}

export function validateExperimentId(experimentId: unknown): string {
  if (!isPlainString(experimentId) || !EXPERIMENT_ID.test(experimentId)) {
    throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, `Invalid experiment ID: '${String(experimentId)}'`);
  }
  return experimentId;
}

export function validateTrackingRunStatus(status: unknown): TrackingRunStatus {
  if (!(TRACKING_RUN_STATUSES as readonly unknown[]).includes(status)) {
    throw TributaryError.of(
      Reason.INVALID_PARAMETER_VALUE,
      `Invalid run status '${String(status)}'; expected one of ${TRACKING_RUN_STATUSES.join(', ')}`,
    );
  }
  return status as TrackingRunStatus;
}

export function validateTime(what: string, t: unknown): number {
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) {
    throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, `${what} must be a nonnegative integer (milliseconds since the epoch), got ${String(t)}`);
  }
  return t;
}

export function validateTrackingRunName(name: unknown): string {
  if (!isPlainString(name)) throw TributaryError.of(Reason.INVALID_PARAMETER_VALUE, 'run name must be a string');
  checkLength('Run name', name, TrackingLimits.MAX_TAG_VAL_LENGTH);
  return name;
}

/** A run name, or undefined when absent or empty (the store then picks one). */
export function validateOptionalTrackingRunName(name: unknown): string | undefined {
  return name === undefined || name === '' ? undefined : validateTrackingRunName(name);
}

/** `max_results` of a search, or its default when absent. */
export function validateSearchMaxResults(maxResults: unknown): number {
  return validateMaxResults(maxResults, TrackingLimits.SEARCH_MAX_RESULTS_DEFAULT, TrackingLimits.SEARCH_MAX_RESULTS_THRESHOLD);
}

/** `max_results` of a metric history page, or its default when absent. */
export function validateHistoryMaxResults(maxResults: unknown): number {
  return validateMaxResults(maxResults, TrackingLimits.GET_METRIC_HISTORY_MAX_RESULTS, TrackingLimits.GET_METRIC_HISTORY_MAX_RESULTS);
}

/** `maxResults` checked against a ceiling, or the default when absent. */
function validateMaxResults(maxResults: unknown, fallback: number, ceiling: number): number {
  if (maxResults === undefined) return fallback;
  if (typeof maxResults !== 'number' || !Number.isInteger(maxResults) || maxResults < 1) {
    throw TributaryError.of(
      Reason.INVALID_PARAMETER_VALUE,
      `Invalid value for request parameter max_results. It must be a positive integer, but got value ${String(maxResults)}`,
    );
  }
  if (maxResults > ceiling) {
    throw TributaryError.of(
      Reason.INVALID_PARAMETER_VALUE,
      `Invalid value for request parameter max_results. It must be at most ${ceiling}, but got value ${maxResults}`,
    );
  }
  return maxResults;
}
