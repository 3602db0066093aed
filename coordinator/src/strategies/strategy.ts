import { Reason, TributaryError, quoted } from '@tributary/proto';
import type { FederationSettings__Output, TensorMap, TensorSpec__Output } from '@tributary/proto';

/** What a strategy knows about the round it aggregates. */
export interface RoundContext {
  federation: string;
  runId: string;
  round: number;
  /** The model the selected sites trained from. */
  globalModel: TensorMap;
  modelSpec: TensorSpec__Output[];
  /** Validated strategy options (see `Strategy.validateOptions`). */
  options: Record<string, string>;
  /**
   * State the strategy carried over from this run's previous committed round (server optimiser
   * moments, ...), as returned by the previous `finish()`; empty at a run's first round. It is
   * persisted with each model version, so it survives a coordinator restart.
   */
  serverState: TensorMap;
  /** A directory this round's aggregator may use for spill files; removed after the round. */
  scratchDir: string;
  /** Update bytes an aggregator may hold in memory before it spills to `scratchDir`. */
  memoryBudgetBytes: number;
}

/** What a strategy knows when it writes the options sent to sites. */
export type SiteConfigContext = Pick<RoundContext, 'federation' | 'runId' | 'round' | 'modelSpec' | 'options'>;

/** What a round's aggregation produces. */
export interface AggregateResult {
  /** The new global model: the spec's names, dtypes and shapes. */
  model: TensorMap;
  /** Strategy metrics, logged with the round. */
  metrics: Record<string, number>;
  /** State handed to the next round's aggregator (see `RoundContext.serverState`). */
  serverState?: TensorMap;
  /** Safetensors `__metadata__` of the committed model (e.g. an ensemble's member table). */
  metadata?: Record<string, string>;
  /**
   * Called by the engine once it no longer reads `model` (its blob written, and the engine keeps
   * no copy of the tensors): the aggregator may then reuse their memory, e.g. for the next round.
   */
  release?: () => void;
}

/** One verified update, as handed to an aggregator. */
export interface SiteUpdate {
  site: string;
  updateId: string;
  numExamples: number;
  metrics: Record<string, number>;
  /**
   * "tensors" when `tensors` holds the site's model in the federation's spec; any other flavor
   * ("onnx", "custom:<name>") only reaches heterogeneous strategies, with the opaque payload as
   * one U8 tensor named `OPAQUE_PAYLOAD_TENSOR`.
   */
  flavor: string;
  tensors: TensorMap;
}

export { OPAQUE_PAYLOAD_TENSOR } from '@tributary/proto';

/**
 * One verified update of a round with a model spec, read slice by slice from where it is kept
 * rather than decoded whole: what an aggregator that only sums values needs, in bounded memory
 * whatever the model's size.
 */
export interface SlicedSiteUpdate extends Omit<SiteUpdate, 'tensors' | 'flavor'> {
  /** Name, dtype and shape of each tensor of the update. */
  readonly specs: readonly TensorSpec__Output[];
  /**
   * The values of tensor `name` in order, as a whole-update fold would see them (F32 as
   * float32, F64 as float64, every other dtype widened to float64; scaled back to the norm bound
   * when the round clips), in slices of a bounded number of elements. A slice is valid until the
   * next one is asked for: fold it, do not keep it.
   */
  values(name: string): AsyncIterable<Float32Array | Float64Array>;
}

/** Folds a round's updates one by one into the round's model (streaming). */
export interface Aggregator {
  /**
   * Folds one verified update in. Never retains `update.tensors` beyond what the strategy needs.
   * Throws without changing the aggregate when the update cannot be folded.
   */
  fold(update: SiteUpdate): void | Promise<void>;
  /**
   * Folds one update read in slices, for aggregators that add values up and never need a whole
   * update at once; the engine prefers it when present. Checks everything that does not need the
   * values before adding any; should reading fail part way, the aggregate is incomplete and
   * `finish()` must refuse it.
   */
  foldSlices?(update: SlicedSiteUpdate): Promise<void>;
  /**
   * Folds several updates read in slices together, to the same aggregate as `foldSlices` of each
   * in turn; the engine prefers it for updates verified together. Settles per update, in order:
   * one refused before any value is added is refused alone.
   */
  foldSlicesTogether?(updates: readonly SlicedSiteUpdate[]): Promise<Array<PromiseSettledResult<void>>>;
  /** Number folded so far. */
  readonly count: number;
  /** The round's model (same names/dtypes/shapes as the spec) and metrics. Throws TributaryError STRATEGY_ERROR if nothing folded. */
  finish(): AggregateResult | Promise<AggregateResult>;
  /**
   * As `finish`, yielding to the event loop while a large model is finished (the same result);
   * the engine prefers it when present.
   */
  finishInSlices?(): Promise<AggregateResult>;
  /** Releases spill files and buffers; called once the round is closed, whatever its outcome. */
  dispose?(): Promise<void>;
  /**
   * Adds a partial aggregate made elsewhere (an aggregation worker) of the updates it lists, as if
   * each had been folded here. Only aggregators whose fold is a sum offer it (FedAvg).
   */
  foldPartial?(partial: PartialAggregate): void | Promise<void>;
}

/** Weighted sums of some updates, made by an aggregation worker. */
export interface PartialAggregate {
  /** Per tensor of the model spec, in its order: the sum of num_examples x values, in float64. */
  sums: Float64Array[];
  /** The updates summed, with the weights and metrics the round recorded for them. */
  updates: ReadonlyArray<Pick<SiteUpdate, 'site' | 'updateId' | 'numExamples' | 'metrics'>>;
}

/** An aggregation strategy: which sites take part, what they are told, how updates combine. */
export interface Strategy {
  readonly name: string;
  /**
   * True when sites may send models of any architecture or framework (ensembles): the
   * federation's model spec is not enforced on updates and tasks carry no spec.
   */
  readonly heterogeneous?: boolean;
  /**
   * False when the strategy's aggregators never read `RoundContext.globalModel` (fedavg and
   * fedprox only average the sites' models): the engine then keeps the global model on disk
   * instead of decoded in memory, and hands the aggregator an empty `globalModel`. Default true.
   */
  readonly readsGlobalModel?: boolean;
  /** Validates options (INVALID_ARGUMENT naming the option) and returns them normalised. */
  validateOptions(options: Record<string, string>): Record<string, string>;
  /** Which of the eligible sites take part, given the settings (sample_fraction / sample_count; deterministic given `random`). */
  selectSites(
    eligible: string[],
    settings: FederationSettings__Output,
    random: () => number,
  ): string[];
  /** Options sent to the selected sites in the task. */
  siteConfig(ctx: SiteConfigContext): Record<string, string>;
  createAggregator(ctx: RoundContext): Aggregator;
}

/** Strategies by name. */
export class StrategyRegistry {
  private readonly strategies = new Map<string, Strategy>();

  register(strategy: Strategy): void {
    if (this.strategies.has(strategy.name)) {
      throw TributaryError.of(Reason.ALREADY_EXISTS, `strategy "${strategy.name}" is already registered`);
    }
    this.strategies.set(strategy.name, strategy);
  }

  /** The strategy called `name`; INVALID_ARGUMENT listing the known ones if there is none. */
  get(name: string): Strategy {
    const strategy = this.strategies.get(name);
    if (strategy === undefined) {
      throw TributaryError.invalidArgument(`unknown strategy ${quoted(name)} (known: ${this.names().join(', ')})`);
    }
    return strategy;
  }

  names(): string[] {
    return [...this.strategies.keys()].sort();
  }
}

/**
 * The sites of a round under the federation's sampling settings: `sample_count` > 0 takes that
 * many (at most all), else `sample_fraction` in (0, 1] takes ceil(fraction x eligible), at least
 * one, else all. A partial Fisher-Yates shuffle driven by `random` picks them, so the choice is
 * reproducible from a seeded `random`; the result keeps the order of `eligible`.
 */
export function sampleSites(
  eligible: readonly string[],
  settings: Pick<FederationSettings__Output, 'sampleCount' | 'sampleFraction'>,
  random: () => number,
): string[] {
  const n = eligible.length;
  const k = sampleSize(n, settings);
  if (k >= n) return [...eligible];
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = Math.min(n - 1, i + Math.floor(random() * (n - i)));
    const picked = order[j]!;
    order[j] = order[i]!;
    order[i] = picked;
  }
  return order
    .slice(0, k)
    .sort((a, b) => a - b)
    .map((i) => eligible[i]!);
}

function sampleSize(
  n: number,
  { sampleCount, sampleFraction }: Pick<FederationSettings__Output, 'sampleCount' | 'sampleFraction'>,
): number {
  if (sampleCount > 0) return Math.min(sampleCount, n);
  if (sampleFraction > 0 && sampleFraction <= 1) {
    // The epsilon keeps 0.3 x 10 (= 3.0000000000000004 in binary) at 3 sites, not 4.
    return Math.min(n, Math.max(1, Math.ceil(sampleFraction * n - 1e-9)));
  }
  return n;
}

/**
 * STRATEGY_ERROR: an update the strategy cannot fold (INVALID_ARGUMENT; the update is refused)
 * or a round it cannot aggregate (FAILED_PRECONDITION; the round fails with this message).
 */
export function strategyError(code: 'INVALID_ARGUMENT' | 'FAILED_PRECONDITION', message: string): TributaryError {
  return TributaryError.of(Reason.STRATEGY_ERROR, message, { code });
}

/**
 * The update's number of examples, the weight it carries; ZERO_EXAMPLES unless it is a positive
 * finite number, e.g. `update u1 from site "a" has 0 examples; fedavg needs more than 0`.
 */
export function exampleWeight(update: Pick<SiteUpdate, 'numExamples' | 'updateId' | 'site'>, strategy: string): number {
  const weight = update.numExamples;
  if (Number.isFinite(weight) && weight > 0) return weight;
  throw TributaryError.of(
    Reason.ZERO_EXAMPLES,
    `update ${update.updateId} from site "${update.site}" has ${weight} examples; ${strategy} needs more than 0`,
  );
}
