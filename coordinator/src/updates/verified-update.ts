import { rm } from 'node:fs/promises';
import type { SafetensorsLayout, UpdateManifest__Output } from '@tributary/proto';
import { readWholeFile, type BlobStore } from '../state/index.js';

/**
 * An update whose signature, site, digest, size, schema and values were verified by the ingest,
 * with the staged payload it owns: a file, or the bytes themselves when the payload was small
 * enough to be kept in memory. Whoever holds it ends it exactly once: `commit()` keeps the
 * payload in the blob store (lineage and recovery read it there), `discard()` drops it.
 */
export class VerifiedUpdate {
  private staged: string | Uint8Array | undefined;
  /** The payload once committed: its bytes when they were kept in memory, else read from the blob store. */
  private committed: Uint8Array | 'blob' | undefined;

  constructor(
    readonly manifest: UpdateManifest__Output,
    /** Verified payload bytes (0 for an evaluation result). */
    readonly bytes: number,
    /** The staged payload: a file's path, or its bytes; undefined for an evaluation result. */
    staged: string | Uint8Array | undefined,
    private readonly blobs: BlobStore,
    /** Stream sequence of the manifest's TRIB_UPDATES message, kept in the update's record. */
    readonly manifestSeq?: number,
    /** The payload's safetensors layout as inspection read it: the fold decodes with it, not parsing the header again. */
    readonly layout?: SafetensorsLayout,
    /**
     * The aggregation worker that verified the payload and folded it into its partial: the round
     * records the update without folding it (the payload stays in the data plane until the round ends).
     */
    readonly foldedBy?: string,
    /** The worker scaled it back to the round's norm bound before folding it. */
    readonly clippedByWorker = false,
  ) {
    this.staged = staged;
  }

  /** An evaluation result: metrics only, no payload. */
  get isEvaluation(): boolean {
    return this.manifest.taskKind === 'evaluate';
  }

  /**
   * The verified payload bytes, the caller's own (a fold may keep views of them); empty for an
   * evaluation result. Before `commit()` from where it is staged, after it from the blob store.
   */
  async payload(): Promise<Uint8Array> {
    if (this.committed === 'blob') return this.blobs.read(this.manifest.payloadSha256);
    // Committed bytes are nobody else's any more; staged ones stay as verified until committed (a copy of at most 1 MiB).
    if (this.committed !== undefined) return this.committed;
    if (this.staged === undefined) return new Uint8Array(0);
    if (typeof this.staged !== 'string') return new Uint8Array(this.staged);
    return readWholeFile(this.staged);
  }

  /** Moves the payload into the blob store under its verified digest. */
  async commit(): Promise<void> {
    const staged = this.staged;
    this.staged = undefined;
    if (staged === undefined) return;
    if (typeof staged === 'string') {
      await this.blobs.putFile(staged, this.manifest.payloadSha256);
      this.committed = 'blob';
    } else {
      await this.blobs.put(staged);
      this.committed = staged;
    }
  }

  /** Drops the staged payload and forgets a committed one; safe to call more than once, and after `commit()`. */
  async discard(): Promise<void> {
    const staged = this.staged;
    this.staged = undefined;
    this.committed = undefined;
    if (typeof staged === 'string') await rm(staged, { force: true });
  }
}
