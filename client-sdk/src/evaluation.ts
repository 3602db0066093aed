import { DEFAULT_CHUNK_SIZE, Reason, TENSORS_FLAVOR, TributaryError, newUpdateId, sha256Hex } from '@tributary/proto';
import type { UpdateManifest } from '@tributary/proto';
import type { SiteSession } from './session.js';
import { describeDatasets } from './lineage.js';
import type { DatasetDescriptor, SiteTask, UpdateVerdict } from './types.js';
import { publishManifest } from './submission.js';

/** What `evaluate` returns: metrics of the global model on local data, and how many examples they cover. */
export interface EvaluationResult {
  /** Examples evaluated on; weights this site's metrics in the federation's aggregate. */
  numExamples: number;
  metrics: Record<string, number>;
  /** The evaluation data (never the data itself). */
  datasets?: DatasetDescriptor[];
  context?: Record<string, string>;
}

/** Evaluates the task's global model (`task.model`) on the site's own data. */
export type EvaluateFn = (task: SiteTask) => Promise<EvaluationResult>;

const EMPTY_SHA256 = sha256Hex(new Uint8Array(0));

/**
 * Sends an evaluation result: a signed manifest of kind "evaluate" with metrics and no payload,
 * then waits for the verdict like an update.
 */
export async function submitEvaluation(session: SiteSession, task: SiteTask, result: EvaluationResult, signal: AbortSignal): Promise<UpdateVerdict> {
  if (task.kind !== 'evaluate') throw TributaryError.invalidArgument(`task of kind "${task.kind}" is not an evaluation`);
  if (!Number.isSafeInteger(result.numExamples) || result.numExamples <= 0) {
    throw TributaryError.of(Reason.ZERO_EXAMPLES, `evaluation numExamples must be a positive integer, got ${String(result.numExamples)}`);
  }
  for (const [key, value] of Object.entries(result.metrics)) {
    if (!Number.isFinite(value)) throw TributaryError.of(Reason.NON_FINITE, `evaluation metric "${key}" is not a finite number`);
  }
  const { site } = session;
  const { federation, runId, round } = task;
  const updateId = newUpdateId();
  const manifest: UpdateManifest & { updateId: string } = {
    federation,
    runId,
    round,
    site,
    updateId,
    createdAtMs: Date.now(),
    numExamples: result.numExamples,
    metrics: result.metrics,
    payloadSize: 0,
    payloadSha256: EMPTY_SHA256,
    chunkCount: 0,
    chunkSize: DEFAULT_CHUNK_SIZE,
    tensors: [],
    flavor: TENSORS_FLAVOR,
    baseVersion: task.modelVersion,
    taskKind: 'evaluate',
    datasets: describeDatasets(result.datasets?.map((d) => ({ context: 'evaluation', ...d }))),
    context: { ...(result.context ?? {}) },
  };
  return publishManifest(session, task, manifest, signal, { bytes: 0, started: Date.now() });
}

