import type { TensorMap, TensorSpec__Output } from '@tributary/proto';

/** One round's work for this site, with the global model already downloaded and digest-checked. */
export interface SiteTask {
  readonly federation: string;
  readonly runId: string;
  readonly round: number;
  /** "train" (other kinds may come with federated evaluation). */
  readonly kind: string;
  /** Global model version the site starts from. */
  readonly modelVersion: number;
  /** Strategy options for the site (e.g. `mu` for fedprox). */
  readonly config: Readonly<Record<string, string>>;
  /** Unix ms after which the coordinator refuses the update. */
  readonly deadlineAtMs: number;
  /** Tensors the update must carry: the same names, dtypes and shapes. */
  readonly modelSpec: TensorSpec__Output[];
  /** The global model; yours to modify in place. */
  readonly model: TensorMap;
  /** Aborts at the deadline (reason DEADLINE_PASSED) or on shutdown (CANCELLED). */
  readonly signal: AbortSignal;
  /**
   * Records metric points (loss, accuracy, ...) at `step`, streamed to the coordinator as signed
   * batches. Best effort: never throws for transport problems.
   * @param step @default the number of earlier `log` calls on this task
   */
  log(metrics: Record<string, number>, step?: number): void;
}

/** What `train` returns: the new weights (same spec as the model), their weight in averaging, and metrics. */
export interface TrainResult {
  weights: TensorMap;
  /** Examples trained on; must be a positive integer. */
  numExamples: number;
  metrics?: Record<string, number>;
}

export type TrainFn = (task: SiteTask) => Promise<TrainResult>;

/** The coordinator's verdict on one update. A refusal is a normal result, with its reason code. */
export interface UpdateVerdict {
  updateId: string;
  accepted: boolean;
  /** Stable reason code when refused (e.g. DEADLINE_PASSED), else empty. */
  reason: string;
  message: string;
  round: number;
  runId: string;
}

/** Counts of a `participate` session. */
export interface ParticipationSummary {
  /** Tasks received. */
  tasks: number;
  accepted: number;
  refused: number;
  /** Tasks whose `train` threw or whose update could not be published or judged. */
  failed: number;
}
