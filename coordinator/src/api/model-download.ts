import { Reason, TributaryError, allocateModelChunk, quoted, type DownloadModelRequest__Output, type ModelChunk__Output } from '@tributary/proto';
import type { BlobStore, StateStore } from '../state/index.js';

const DEFAULT_CHUNK = 1024 * 1024;
const MIN_CHUNK = 16 * 1024;
/** Stays under grpc-js's default 4 MiB receive limit with room for framing. */
const MAX_CHUNK = 2 * 1024 * 1024;

/** Streams a model version's payload from `offset`, so an interrupted download resumes. */
export async function* modelChunks(req: DownloadModelRequest__Output, deps: { state: StateStore; blobs: BlobStore }, signal: AbortSignal): AsyncIterable<ModelChunk__Output> {
  const federation = await deps.state.getFederation(req.federation);
  if (!federation) throw TributaryError.notFound(`federation ${quoted(req.federation)} does not exist`);
  const versionNumber = req.version || federation.latestVersion;
  const version = await deps.state.getModelVersion(federation.name, versionNumber);
  if (!version) throw TributaryError.notFound(`model version ${versionNumber} of "${federation.name}" does not exist`);
  const chunk = Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, req.chunkSize || DEFAULT_CHUNK));
  let offset = req.offset;
  if (offset > version.size) {
    throw TributaryError.of(Reason.INVALID_ARGUMENT, `offset ${offset} is past the payload's ${version.size} bytes`, { code: 'OUT_OF_RANGE' });
  }
  const header = { version: version.version, totalSize: version.size, sha256: version.sha256 };
  if (offset === version.size) {
    yield { ...header, offset, data: Buffer.alloc(0) };
    return;
  }
  if (signal.aborted) return;
  // One open file for the whole stream; closed also when the consumer stops early.
  const reader = await deps.blobs.openReader(version.sha256);
  try {
    while (offset < version.size && !signal.aborted) {
      const length = Math.min(chunk, version.size - offset);
      // Read straight into the chunk's wire form: one buffer a chunk, no encoder copy.
      const next = allocateModelChunk(header, offset, length);
      await reader.readInto(next.data, offset);
      yield next;
      offset += length;
    }
  } finally {
    await reader.close();
  }
}
