import { safetensorsParts, type TensorMap, type UpdateSummary__Output } from '@tributary/proto';
import type { BlobStore, FederationRecord, ModelVersionRecord, StateWrite } from '../state/index.js';

/** Where a model version came from: the initial weights (no run), or a round of a run. */
export interface ModelVersionOrigin {
  parentVersion: number;
  runId: string;
  round: number;
  contributions: UpdateSummary__Output[];
  strategy: string;
  metrics: Record<string, number>;
}

/** The initial weights of a federation: version 1, no parent, no run. */
export const INITIAL_WEIGHTS: ModelVersionOrigin = { parentVersion: 0, runId: '', round: 0, contributions: [], strategy: '', metrics: {} };

/** A model version ready to commit: its record, and the state writes that commit it. */
export interface PreparedModelVersion {
  record: ModelVersionRecord;
  /** The version record and the federation pointing at it as its latest. */
  writes: StateWrite[];
  federation: FederationRecord;
}

/**
 * Stores a model's payload (and its strategy state, if any) as content-addressed blobs and builds
 * the next version of `federation` with its lineage. The caller commits `writes` in one batch
 * together with its own records (a round, a run), so a version appears whole or not at all.
 */
export async function prepareModelVersion(
  blobs: BlobStore,
  federation: FederationRecord,
  model: { payload: Uint8Array } | { tensors: TensorMap; metadata?: Record<string, string> } | { blob: { sha256: string; size: number } },
  origin: ModelVersionOrigin,
  opts: { serverState?: TensorMap; atMs: number; version?: number },
): Promise<PreparedModelVersion> {
  // A blob is already stored (and verified) by the caller, e.g. streamed initial weights.
  // Tensors are written as they are, never encoded into one more buffer of the whole model.
  const blob =
    'blob' in model ? model.blob : 'payload' in model ? await blobs.put(model.payload) : await blobs.putParts(safetensorsParts(model.tensors, model.metadata).parts);
  const state = opts.serverState && Object.keys(opts.serverState).length > 0 ? await blobs.putParts(safetensorsParts(opts.serverState).parts) : undefined;
  const version = opts.version ?? federation.latestVersion + 1;
  const record: ModelVersionRecord = {
    federation: federation.name,
    version,
    sha256: blob.sha256,
    size: blob.size,
    parentVersion: origin.parentVersion,
    runId: origin.runId,
    round: origin.round,
    contributions: origin.contributions,
    createdAtMs: opts.atMs,
    strategy: origin.strategy,
    metrics: origin.metrics,
    strategyStateSha256: state?.sha256 ?? '',
  };
  const updated: FederationRecord = { ...federation, latestVersion: version };
  return {
    record,
    federation: updated,
    writes: [
      { kind: 'modelVersion', value: record },
      { kind: 'federation', value: updated },
    ],
  };
}
