import { DEFAULT_CHUNK_SIZE, TributaryError, UPDATE_ID_PATTERN, isOpaqueFlavor, type UpdateManifest__Output, type UpdateSubject, isSha256Hex } from '@tributary/proto';
import { validateMetricKey } from '../tracking/validation.js';
import { isTensorFlavor } from '../updates/foldable-update.js';

/** What a manifest reports: a trained update ("" from older writers) or an evaluation. */
const TASK_KINDS: ReadonlySet<string> = new Set(['', 'train', 'evaluate']);

/** The subject's tokens disagree with the signed manifest: the first differing field, or undefined. */
export function subjectMismatch(
  parsed: UpdateSubject | undefined,
  subject: string,
  manifest: UpdateManifest__Output,
): string | undefined {
  if (parsed === undefined) return `subject "${subject}" is not an update subject`;
  const fields = ['federation', 'runId', 'round', 'site'] as const;
  for (const field of fields) {
    if (parsed[field] !== manifest[field]) {
      return `subject "${subject}" says ${field} ${JSON.stringify(parsed[field])}, the manifest ${JSON.stringify(manifest[field])}`;
    }
  }
  return undefined;
}

/** Structural problems of a signed manifest (ids, digest, chunk layout), or undefined. */
export function manifestProblem(m: UpdateManifest__Output): string | undefined {
  if (!UPDATE_ID_PATTERN.test(m.updateId)) return `update id ${JSON.stringify(m.updateId)} is not 32 lowercase hex characters`;
  if (!TASK_KINDS.has(m.taskKind)) return `task_kind ${JSON.stringify(m.taskKind)} is not "train" or "evaluate"`;
  const metadata = metadataProblem(m);
  if (metadata !== undefined) return metadata;
  if (m.taskKind === 'evaluate') {
    // Evaluation results carry metrics only.
    if (m.payloadSize !== 0 || m.chunkCount !== 0) return 'an evaluation result carries no payload (payload_size and chunk_count must be 0)';
    return undefined;
  }
  if (!isSha256Hex(m.payloadSha256)) return `payload_sha256 ${JSON.stringify(m.payloadSha256)} is not 64 lowercase hex characters`;
  if (!Number.isSafeInteger(m.payloadSize) || m.payloadSize < 1) return `payload_size ${m.payloadSize} is not a positive size`;
  if (m.chunkSize < 1 || m.chunkSize > DEFAULT_CHUNK_SIZE) {
    return `chunk_size ${m.chunkSize} is outside 1..${DEFAULT_CHUNK_SIZE}`;
  }
  const expectedChunks = Math.ceil(m.payloadSize / m.chunkSize);
  if (m.chunkCount !== expectedChunks) {
    return `chunk_count ${m.chunkCount} does not fit payload_size ${m.payloadSize} in chunks of ${m.chunkSize} (expected ${expectedChunks})`;
  }
  return undefined;
}

/** Bounds on what a site may attach to an update besides the model (lineage metadata). */
const MAX_DATASETS = 16;
const MAX_CONTEXT_ENTRIES = 32;
const MAX_METRICS = 256;
const MAX_KEY_CHARS = 250;
const MAX_VALUE_CHARS = 8000;

function metadataProblem(m: UpdateManifest__Output): string | undefined {
  if (Object.keys(m.metrics).length > MAX_METRICS) return `more than ${MAX_METRICS} metrics`;
  for (const key of Object.keys(m.metrics)) if (key.length === 0 || key.length > MAX_KEY_CHARS) return `metric key ${JSON.stringify(key.slice(0, 40))} is empty or longer than ${MAX_KEY_CHARS} characters`;
  if (m.datasets.length > MAX_DATASETS) return `more than ${MAX_DATASETS} dataset descriptors`;
  for (const d of m.datasets) {
    if (d.name.length === 0 || d.name.length > MAX_KEY_CHARS) return `a dataset descriptor needs a name of at most ${MAX_KEY_CHARS} characters`;
    if ([d.digest, d.source, d.context].some((v) => v.length > MAX_KEY_CHARS) || d.schema.length > MAX_VALUE_CHARS) return `dataset descriptor "${d.name}" has an oversized field`;
  }
  const context = Object.entries(m.context);
  if (context.length > MAX_CONTEXT_ENTRIES) return `more than ${MAX_CONTEXT_ENTRIES} context entries`;
  for (const [k, v] of context) {
    if (k.length === 0 || k.length > MAX_KEY_CHARS || v.length > MAX_VALUE_CHARS) return `context entry ${JSON.stringify(k.slice(0, 40))} is empty or oversized`;
  }
  return undefined;
}

/**
 * A metric key of the manifest the tracking stores would refuse, as a message, or undefined.
 * Keys are checked once, here, with MLflow's rule (the strictest of the stores), as they will be
 * stored: as round metrics, and as `eval_<key>` for an evaluation result. A key that passed here
 * is never the reason a round cannot be logged.
 */
export function metricKeyProblem(m: UpdateManifest__Output): string | undefined {
  for (const key of Object.keys(m.metrics)) {
    const stored = m.taskKind === 'evaluate' ? [key, `eval_${key}`] : [key];
    try {
      for (const k of stored) validateMetricKey(k);
    } catch (err) {
      return `metric key ${JSON.stringify(key.slice(0, 60))}: ${TributaryError.from(err).message}`;
    }
  }
  return undefined;
}

/** A payload flavor this ingest cannot verify, as a message, or undefined. */
export function unsupportedFlavor(flavor: string, heterogeneous = false): string | undefined {
  if (isTensorFlavor(flavor)) return undefined;
  // Opaque members (onnx, custom:<name>) only in heterogeneous rounds; the rule lives in proto.
  if (heterogeneous && isOpaqueFlavor(flavor)) return undefined;
  return heterogeneous
    ? `payload flavor "${flavor}" is not supported (expected "tensors", "onnx" or "custom:<name>")`
    : `payload flavor "${flavor}" is not supported (expected "tensors")`;
}
