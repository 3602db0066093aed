import type { BlobStore, FederationRecord, ModelVersionRecord, StateStore } from '../state/index.js';

/** What a collection removed. */
export interface GarbageCollected {
  versionsKept: number;
  versionsReleased: number;
  blobsDeleted: number;
  bytesFreed: number;
}

/** Blobs a model version's lineage needs: its weights, its strategy state, the updates it was made of. */
function blobsOf(version: ModelVersionRecord): string[] {
  return [version.sha256, version.strategyStateSha256, ...version.contributions.map((c) => c.payloadSha256)].filter((sha) => sha !== '');
}

/**
 * Applies a federation's retention policy to the blob store: the blobs of its model versions
 * older than the newest `keep_versions`, and the payloads of its rounds that committed nothing,
 * are deleted, unless something kept needs them. Kept is reckoned over every federation (blobs
 * are content-addressed, so two federations may share one): the newest `keep_versions` versions
 * of each (deleted federations too: their lineage stays for the record) with their lineage's
 * blobs, every running run's latest version, and the updates already
 * folded into every open round (a restart re-folds them). Version records stay; a released
 * version's download answers NOT_FOUND. Callers serialise it with the federation's rounds.
 */
export async function collectGarbage(
  state: StateStore,
  blobs: BlobStore,
  federation: FederationRecord,
  /** How many model versions a federation keeps (its `keep_versions`, defaulted). */
  keepVersionsOf: (federation: FederationRecord) => number,
): Promise<GarbageCollected> {
  const live = new Set<string>();
  const candidates = new Set<string>();
  let versionsKept = 0;
  let versionsReleased = 0;
  const running = (await state.listRuns()).filter((run) => run.status === 'RUN_STATUS_RUNNING');
  for (const f of [...(await state.listFederations()), ...(await state.listDeletedFederations())]) {
    const versions = await state.listModelVersions(f.name);
    const keepFrom = versions.length - keepVersionsOf(f);
    const inUse = new Set(running.filter((run) => run.federation === f.name).map((run) => run.latestVersion));
    versions.forEach((version, i) => {
      const kept = i >= keepFrom || inUse.has(version.version);
      for (const sha of blobsOf(version)) (kept ? live : f.name === federation.name ? candidates : undefined)?.add(sha);
      if (f.name !== federation.name) return;
      if (kept) versionsKept++;
      else versionsReleased++;
    });
  }
  for (const run of await state.listRuns()) {
    const isRunning = run.status === 'RUN_STATUS_RUNNING';
    if (!isRunning && run.federation !== federation.name) continue;
    for (const round of await state.listRounds(run.id)) {
      const open = round.state === 'ROUND_STATE_OPEN' || round.state === 'ROUND_STATE_AGGREGATING';
      const payloads = round.accepted.map((u) => u.payloadSha256).filter((sha) => sha !== '');
      if (isRunning && open) for (const sha of payloads) live.add(sha);
      else if (run.federation === federation.name && round.state !== 'ROUND_STATE_COMMITTED') for (const sha of payloads) candidates.add(sha);
    }
  }
  let blobsDeleted = 0;
  let bytesFreed = 0;
  for (const sha of candidates) {
    if (live.has(sha)) continue;
    const freed = await blobs.remove(sha);
    if (freed === undefined) continue;
    blobsDeleted++;
    bytesFreed += freed;
  }
  return { versionsKept, versionsReleased, blobsDeleted, bytesFreed };
}
