import { isSha256Hex } from '@tributary/proto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobStore, StateStore } from '../../coordinator/src/state/index.js';

/**
 * Digests of the blobs in `blobs` that no record of `state` names: not a model version's weights,
 * strategy state or contributions, nor an update accepted into any round. Names are looked up
 * as the retention sweep (`model gc`) reckons its live blobs.
 */
export async function unnamedBlobs(state: StateStore, blobs: BlobStore): Promise<string[]> {
  const named = new Set<string>();
  for (const federation of await state.listFederations()) {
    for (const v of await state.listModelVersions(federation.name)) {
      for (const sha of [v.sha256, v.strategyStateSha256, ...v.contributions.map((c) => c.payloadSha256)]) named.add(sha);
    }
  }
  for (const run of await state.listRuns()) {
    for (const round of await state.listRounds(run.id)) for (const u of round.accepted) named.add(u.payloadSha256);
  }
  return (await storedBlobs(blobs)).filter((sha) => !named.has(sha));
}

/** Digests of every blob in the store, files and inline ones (temp files of unfinished writes aside). */
export async function storedBlobs(blobs: BlobStore): Promise<string[]> {
  const root = join(blobs.dir, 'sha256');
  const digests: string[] = await blobs.inlineDigests();
  let prefixes: string[];
  try {
    prefixes = await readdir(root);
  } catch {
    return [...new Set(digests)].sort();
  }
  for (const prefix of prefixes) for (const name of await readdir(join(root, prefix))) if (isSha256Hex(name)) digests.push(name);
  return [...new Set(digests)].sort();
}
