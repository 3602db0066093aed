import { readFile, rm } from 'node:fs/promises';
import type { UpdateManifest__Output } from '@tributary/proto';
import type { BlobStore } from '../state/index.js';

/**
 * An update whose signature, site, digest, size, schema and values were verified by the ingest,
 * with the staged payload file it owns. Whoever holds it ends it exactly once: `commit()` keeps
 * the payload in the blob store (lineage and recovery read it there), `discard()` drops it.
 */
export class VerifiedUpdate {
  private staged: string | undefined;

  constructor(
    readonly manifest: UpdateManifest__Output,
    /** Verified payload bytes (0 for an evaluation result). */
    readonly bytes: number,
    stagedPath: string | undefined,
    private readonly blobs: BlobStore,
    /** Stream sequence of the manifest's TRIB_UPDATES message, kept in the update's record. */
    readonly manifestSeq?: number,
  ) {
    this.staged = stagedPath;
  }

  /** An evaluation result: metrics only, no payload. */
  get isEvaluation(): boolean {
    return this.manifest.taskKind === 'evaluate';
  }

  /** The verified payload bytes; empty for an evaluation result. */
  async payload(): Promise<Uint8Array> {
    if (this.staged === undefined) return new Uint8Array(0);
    return readFile(this.staged);
  }

  /** Moves the payload into the blob store under its verified digest. */
  async commit(): Promise<void> {
    const path = this.staged;
    this.staged = undefined;
    if (path !== undefined) await this.blobs.putFile(path, this.manifest.payloadSha256);
  }

  /** Drops the staged payload; safe to call more than once, and after `commit()`. */
  async discard(): Promise<void> {
    const path = this.staged;
    this.staged = undefined;
    if (path !== undefined) await rm(path, { force: true });
  }
}
