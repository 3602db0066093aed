import { Reason, TributaryError, allocateModelChunk, quoted, type DownloadModelRequest__Output, type ModelChunk__Output } from '@tributary/proto';
import type { BlobStore, StateStore } from '../state/index.js';
import { ByteBudget, DOWNLOAD_QUEUE_CHUNKS, WHEN_SENT } from './download-budget.js';

const DEFAULT_CHUNK = 1024 * 1024;
const MIN_CHUNK = 16 * 1024;
/** Stays under grpc-js's default 4 MiB receive limit with room for framing. */
const MAX_CHUNK = 2 * 1024 * 1024;

export interface ModelDownloadDeps {
  state: StateStore;
  blobs: BlobStore;
  /** Unsent chunk bytes for all downloads together; each chunk is held until it is sent. */
  downloads: ByteBudget;
}

/**
 * Streams a model version's payload from `offset`, so an interrupted download resumes. A chunk is
 * read only once this stream and all downloads together have room for it in their send queues.
 */
export async function* modelChunks(req: DownloadModelRequest__Output, deps: ModelDownloadDeps, signal: AbortSignal): AsyncIterable<ModelChunk__Output> {
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
  const queue = new SendQueue(deps.downloads, chunk, signal);
  // One open file for the whole stream; closed also when the consumer stops early.
  const reader = await deps.blobs.openReader(version.sha256);
  try {
    while (offset < version.size && !signal.aborted) {
      const length = Math.min(chunk, version.size - offset);
      const sent = await queue.hold(length);
      if (!sent) return;
      // Read straight into the chunk's wire form: one buffer a chunk, no encoder copy.
      const next = allocateModelChunk(header, offset, length);
      try {
        await reader.readInto(next.data, offset);
      } catch (err) {
        sent();
        throw err;
      }
      yield Object.assign(next, { [WHEN_SENT]: sent });
      offset += length;
    }
  } finally {
    await reader.close();
  }
}

/**
 * One download's unsent chunks, held in its own budget and in the shared one until the transport
 * takes them. A cancelled download gives back what it held at once: grpc-js may never report
 * chunks of a cancelled stream as sent.
 */
class SendQueue {
  private readonly own: ByteBudget;
  private readonly ticket: number;
  private readonly unsent = new Set<() => void>();

  constructor(
    private readonly shared: ByteBudget,
    chunkBytes: number,
    private readonly signal: AbortSignal,
  ) {
    this.own = new ByteBudget(DOWNLOAD_QUEUE_CHUNKS * chunkBytes);
    this.ticket = shared.ticket();
    signal.addEventListener('abort', () => this.releaseAll(), { once: true });
  }

  /** Waits for room for `bytes`; the callback gives them back (once). Undefined when cancelled. */
  async hold(bytes: number): Promise<(() => void) | undefined> {
    if (!(await this.own.acquire(0, bytes, this.signal))) return undefined;
    if (!(await this.shared.acquire(this.ticket, bytes, this.signal))) {
      this.own.release(bytes);
      return undefined;
    }
    const sent = () => {
      if (!this.unsent.delete(sent)) return;
      this.own.release(bytes);
      this.shared.release(bytes);
    };
    this.unsent.add(sent);
    return sent;
  }

  private releaseAll(): void {
    for (const sent of [...this.unsent]) sent();
  }
}
