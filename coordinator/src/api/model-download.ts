import { Reason, TributaryError, allocateModelChunk, quoted, type DownloadModelRequest__Output, type ModelChunk__Output } from '@tributary/proto';
import type { BlobStore, StateStore } from '../state/index.js';
import { ByteBudget, DOWNLOAD_QUEUE_CHUNKS, WHEN_SENT } from './download-budget.js';
import type { SharedModelChunks } from './shared-model-chunks.js';

const DEFAULT_CHUNK = 1024 * 1024;
const MIN_CHUNK = 16 * 1024;
/** Stays under grpc-js's default 4 MiB receive limit with room for framing. */
const MAX_CHUNK = 2 * 1024 * 1024;

export interface ModelDownloadDeps {
  state: StateStore;
  blobs: BlobStore;
  /** Unsent chunk bytes for all downloads together; each chunk is held until it is sent. */
  downloads: ByteBudget;
  /** Chunks read once per version and shared by the downloads of that version. */
  chunks: SharedModelChunks;
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
  const shared = deps.chunks.open({ digest: version.sha256, totalSize: version.size, offset, chunkBytes: chunk });
  // Opened only if a chunk is not already shared; closed also when the consumer stops early.
  let reader: ReturnType<BlobStore['openReader']> | undefined;
  try {
    while (offset < version.size && !signal.aborted) {
      const length = Math.min(chunk, version.size - offset);
      const held = await queue.hold(length);
      if (!held) return;
      const at = offset;
      const taken = await shared
        .take(at, length, async () => {
          reader ??= deps.blobs.openReader(version.sha256);
          // Read straight into the chunk's wire form: one buffer a chunk, no encoder copy.
          const next = allocateModelChunk(header, at, length);
          await (await reader).readInto(next.data, at);
          return next;
        })
        .catch((err: unknown) => {
          held.sent();
          throw err;
        });
      held.also(taken.release);
      // The chunk is shared: each download yields its own message around it.
      yield Object.assign({ ...taken.chunk }, { [WHEN_SENT]: held.sent });
      offset += length;
    }
  } finally {
    shared.close();
    // A reader that failed to open has nothing to close (its error went to the read).
    await reader?.then((r) => r.close(), () => undefined);
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

  /** Waits for room for `bytes`; `sent` gives them back (once). Undefined when cancelled. */
  async hold(bytes: number): Promise<Held | undefined> {
    if (!(await this.own.acquire(0, bytes, this.signal))) return undefined;
    if (!(await this.shared.acquire(this.ticket, bytes, this.signal))) {
      this.own.release(bytes);
      return undefined;
    }
    // Granted in the same turn as the cancellation, after releaseAll ran: give it straight back.
    if (this.signal.aborted) {
      this.own.release(bytes);
      this.shared.release(bytes);
      return undefined;
    }
    const alsoOnSent: Array<() => void> = [];
    const sent = () => {
      if (!this.unsent.delete(sent)) return;
      this.own.release(bytes);
      this.shared.release(bytes);
      for (const release of alsoOnSent) release();
    };
    this.unsent.add(sent);
    return { sent, also: (release) => (this.unsent.has(sent) ? alsoOnSent.push(release) : release()) };
  }

  private releaseAll(): void {
    for (const sent of [...this.unsent]) sent();
  }
}

/** Bytes held for one chunk until it is sent; `also` runs another release with it. */
interface Held {
  readonly sent: () => void;
  also(release: () => void): void;
}
