import { rm } from 'node:fs/promises';
import type { SafetensorsLayout, UpdateManifest__Output } from '@tributary/proto';
import { readWholeFile, type BlobStore, type InlineBlobWrite } from '../state/index.js';

/**
 * Takes back the commits of updates that were not recorded (see `VerifiedUpdate.uncommit`),
 * except payloads that an update recorded with them, `recorded`, shares (the same bytes).
 */
export async function forgetUnrecorded(
  unrecorded: readonly VerifiedUpdate[],
  recorded: readonly VerifiedUpdate[],
  onError: (update: VerifiedUpdate, err: unknown) => void,
): Promise<void> {
  const named = new Set(recorded.map((u) => u.manifest.payloadSha256));
  for (const update of unrecorded) {
    if (named.has(update.manifest.payloadSha256)) continue;
    // A blob that cannot be removed is left for the retention sweep; the verdicts still go out.
    await update.uncommit().catch((err: unknown) => onError(update, err));
  }
}

/** What a `VerifiedUpdate` is made of (see its fields). */
export interface VerifiedUpdateInit {
  manifest: UpdateManifest__Output;
  /** Verified payload bytes (0 for an evaluation result). */
  bytes: number;
  /** The staged payload: a file's path, or its bytes; undefined for an evaluation result. */
  staged?: string | Uint8Array | undefined;
  blobs: BlobStore;
  manifestSeq?: number | undefined;
  layout?: SafetensorsLayout | undefined;
  norm?: number | undefined;
  foldedBy?: string | undefined;
  /** @default false */
  clippedByWorker?: boolean | undefined;
}

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
  /** Whether `commit()` added the blob (rather than finding the same bytes stored already). */
  private created = false;
  /**
   * A small payload `commit()` keeps inline: written in the same synced batch as the update's
   * record (`inlineWrite`), so a group of small updates costs one sync.
   */
  private inline: InlineBlobWrite | undefined;

  readonly manifest: UpdateManifest__Output;
  /** Verified payload bytes (0 for an evaluation result). */
  readonly bytes: number;
  private readonly blobs: BlobStore;
  /** Stream sequence of the manifest's TRIB_UPDATES message, kept in the update's record. */
  readonly manifestSeq: number | undefined;
  /** The payload's safetensors layout as inspection read it: the fold decodes with it, not parsing the header again. */
  readonly layout: SafetensorsLayout | undefined;
  /** The update's distance from the global model, when inspection measured it (a norm bound is set). */
  readonly norm: number | undefined;
  /**
   * The aggregation worker that verified the payload and folded it into its partial: the round
   * records the update without folding it (the payload stays in the data plane until the round ends).
   */
  readonly foldedBy: string | undefined;
  /** The worker scaled it back to the round's norm bound before folding it. */
  readonly clippedByWorker: boolean;

  constructor(init: VerifiedUpdateInit) {
    this.manifest = init.manifest;
    this.bytes = init.bytes;
    this.staged = init.staged;
    this.blobs = init.blobs;
    this.manifestSeq = init.manifestSeq;
    this.layout = init.layout;
    this.norm = init.norm;
    this.foldedBy = init.foldedBy;
    this.clippedByWorker = init.clippedByWorker ?? false;
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

  /**
   * The file holding the payload, for reading it in slices: where it is staged, or its blob once
   * committed; undefined when its bytes are kept in memory (or there is none).
   */
  payloadFile(): string | undefined {
    if (this.committed === 'blob') return this.blobs.path(this.manifest.payloadSha256);
    return typeof this.staged === 'string' ? this.staged : undefined;
  }

  /**
   * Moves the payload into the blob store under its verified digest. A small payload held in
   * memory is not written here but handed to the record's write (`inlineWrite`), which keeps it.
   */
  async commit(): Promise<void> {
    const staged = this.staged;
    this.staged = undefined;
    if (staged === undefined) return;
    const inline = typeof staged === 'string' ? undefined : this.blobs.inlineWrite(this.manifest.payloadSha256, staged);
    if (inline !== undefined) {
      // Already stored (the same bytes, inline or as a file): nothing to write.
      if (!(await this.blobs.has(this.manifest.payloadSha256))) this.inline = inline;
      this.committed = staged as Uint8Array;
      return;
    }
    if (typeof staged === 'string') {
      this.created = await this.blobs.putFile(staged, this.manifest.payloadSha256);
      this.committed = 'blob';
    } else {
      this.created = await this.blobs.putVerified(staged, this.manifest.payloadSha256);
      this.committed = staged;
    }
  }

  /**
   * Takes back a commit whose update was not recorded after all (refused at fold time, or its
   * round's write failed): the blob is removed if this commit added it, so no blob is left that
   * no record names. A blob that was there before (another update's or a model version's
   * identical bytes) stays. The caller makes sure no update recorded meanwhile names the digest.
   */
  async uncommit(): Promise<void> {
    const created = this.created;
    this.created = false;
    // An inline payload is stored only with its record: unrecorded, it was never written.
    this.inline = undefined;
    if (created && this.committed !== undefined) await this.blobs.removeFile(this.manifest.payloadSha256);
    this.committed = undefined;
  }

  /** The write that keeps the committed payload inline, for the batch recording the update; undefined when it is a file or stored already. */
  inlineWrite(): InlineBlobWrite | undefined {
    return this.inline;
  }

  /** Drops the staged payload and forgets a committed one; safe to call more than once, and after `commit()`. */
  async discard(): Promise<void> {
    const staged = this.staged;
    this.staged = undefined;
    this.committed = undefined;
    this.inline = undefined;
    if (typeof staged === 'string') await rm(staged, { force: true });
  }
}
