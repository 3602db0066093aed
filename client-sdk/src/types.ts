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
  /**
   * How long past `deadlineAtMs` the coordinator keeps the round open for an upload still moving
   * (the federation's upload grace); the SDK retries an upload until then. @default 0
   */
  readonly uploadGraceMs?: number;
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

/**
 * What `train` returns: the site's model, its weight in averaging, and metrics. The model is
 * either `weights` (tensors; in the task's model spec unless the spec is empty) or, in
 * heterogeneous federations (ensembles), a `payload` of any framework's bytes.
 */
export type TrainResult = TensorTrainResult | PayloadTrainResult;

interface TrainResultCommon {
  /** Examples trained on; must be a positive integer. */
  numExamples: number;
  metrics?: Record<string, number>;
  /** What the site trained on (never the data itself): recorded in the model version's lineage. */
  datasets?: DatasetDescriptor[];
  /** Run context, e.g. `{ "code.version": "4f2a9c1", "ci.job": "1234" }`: recorded with the update. */
  context?: Record<string, string>;
}

/** A description of a dataset a site used, as in MLflow's log-inputs. */
export interface DatasetDescriptor {
  name: string;
  /** A stable fingerprint the site computes over the data (e.g. SHA-256 of the files). */
  digest?: string;
  /** Schema as JSON text. */
  schema?: string;
  rows?: number;
  /** Where the data lives at the site (a path or table name). */
  source?: string;
  /** "training" or "evaluation". */
  context?: string;
}

/**
 * A model as tensors, sent as safetensors (flavor "tensors"). Their bytes are sent as they are,
 * without a copy: leave them unchanged until the verdict.
 */
export interface TensorTrainResult extends TrainResultCommon {
  weights: TensorMap;
  payload?: undefined;
}

/** A model as bytes the coordinator does not read, tagged with its flavor. */
export interface PayloadTrainResult extends TrainResultCommon {
  payload: {
    /**
     * "onnx", "custom:<name>" (name matching `^[a-z0-9][a-z0-9_.-]{0,62}$`), or "tensors" for
     * bytes that already are a safetensors file (checked like `weights`).
     */
    flavor: string;
    bytes: Uint8Array;
  };
  weights?: undefined;
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
  /**
   * When accepted: the payload's SHA-256 (lowercase hex) and size in bytes as the coordinator
   * verified them, to keep as a record of what the site sent. Empty and 0 when refused.
   */
  payloadSha256: string;
  payloadSize: number;
}

/** How a run of a federation ended, as the coordinator tells the members watching it. */
export interface RunEnd {
  readonly federation: string;
  readonly runId: string;
  readonly status: 'FINISHED' | 'FAILED' | 'KILLED';
  /** Why the run failed or was stopped; empty when it finished. */
  readonly message: string;
  /** The run's last round. */
  readonly round: number;
}

/** Why `participate` resolved. */
export type ParticipationEnd =
  /** A run of the federation ended (the coordinator said so); `run` tells how. */
  | { readonly how: 'run-ended'; readonly run: RunEnd }
  /** `maxTasks` tasks were handled. */
  | { readonly how: 'max-tasks' }
  /** The caller's signal aborted or the client closed. */
  | { readonly how: 'stopped' };

/** Counts of a `participate` session, and how it ended. */
export interface ParticipationSummary {
  /** Tasks handled: train tasks, and evaluate tasks when `evaluate` is given, whatever their outcome. */
  tasks: number;
  accepted: number;
  refused: number;
  /** Tasks whose `train` threw or whose update could not be published or judged. */
  failed: number;
  end: ParticipationEnd;
}
