import type { TensorMap, TensorSpec__Output, UpdateManifest__Output } from '@tributary/proto';

export type Verdict = { ok: true } | { ok: false; reason: string; message: string };

export interface AdmissionContext {
  modelSpec: TensorSpec__Output[];
  globalModel: TensorMap;
  normBound: number;
  maxPayloadBytes: number;
  /**
   * The round takes models of any architecture (ensembles): skip the spec and norm checks, and
   * accept opaque payloads of flavors other than "tensors" (handed over as one U8 tensor).
   */
  heterogeneous: boolean;
  /** False for evaluation results, which carry metrics and no payload. */
  expectsPayload: boolean;
  /** Updates beyond normBound are clipped by the engine rather than refused here. */
  clipToNormBound: boolean;
}

/** What the ingest asks of the round engine about one update. */
export interface UpdateAdmission {
  /** Checks of a signature-verified manifest from a known, approved site, before any payload byte is read:
   *  run exists and is RUNNING, round is the open one, site selected and not yet delivered, deadline not passed. */
  admit(manifest: UpdateManifest__Output): Promise<({ ok: true } & AdmissionContext) | { ok: false; reason: string; message: string }>;
  /** A fully verified update (digest, size, schema, finite, norm): record it (UpdateRecord ACCEPTED) and fold it.
   *  May still refuse (round closed meanwhile). `stagedPath` is the verified payload file, owned by the engine afterwards. */
  accept(manifest: UpdateManifest__Output, tensors: TensorMap, info: { bytes: number; stagedPath: string }): Promise<Verdict>;
  /** Records a refusal: UpdateRecord REFUSED when updateId is well-formed and new, the round's refused list when
   *  the round is known, the refusal metric, a log line and a run event. Never throws. */
  refuse(info: { manifest?: UpdateManifest__Output; subject: string; site?: string; updateId?: string; reason: string; message: string }): Promise<void>;
}
