import type { Refusal, UpdateManifest__Output } from '@tributary/proto';
import type { FoldPolicy } from '../updates/foldable-update.js';
import type { VerifiedUpdate } from '../updates/verified-update.js';

/** What the open round tells the ingest about the updates it takes. */
export interface AdmissionContext extends FoldPolicy {
  /** Largest payload the round reads. */
  readonly maxPayloadBytes: number;
  /** False for evaluation results, which carry metrics and no payload. */
  readonly expectsPayload: boolean;
  /** The round's strategy (aggregation workers fold fedavg and fedprox rounds only). */
  readonly strategy?: string;
  /** The model version the round hands out (norm bounds measure from it). */
  readonly baseVersion?: number;
}

export type Admission = { ok: true; context: AdmissionContext } | { ok: false; refusal: Refusal };

/**
 * What the ingest asks of the rounds about one update, in the order an update travels:
 * admit the authenticated manifest before any payload byte is read, deliver the verified update,
 * or note why it was refused.
 */
export interface UpdateAdmission {
  /**
   * Checks a manifest signed by a known, approved member site against its run and round: run
   * running, round open, site selected and not yet delivered, deadline not passed.
   */
  admit(manifest: UpdateManifest__Output): Promise<Admission>;
  /**
   * Folds a fully verified update into its round (or records an evaluation result) and answers
   * undefined, or refuses it (the round closed meanwhile). Takes ownership of the update: it is
   * committed or discarded before this resolves.
   */
  deliver(update: VerifiedUpdate): Promise<Refusal | undefined>;
  /** The admitted update's payload chunks are arriving: a sign of life of its site. */
  progress?(manifest: UpdateManifest__Output): void;
  /** Adds an authenticated update's refusal to its round's record and events. Never throws. */
  noteRefusal(manifest: UpdateManifest__Output, refusal: Refusal): Promise<void>;
}
