import { TributaryError, checkSpec, fromFloat64Steps, runAtOnce, runCooperatively, tensor, tensorSpecsOf, toFloat64 } from '@tributary/proto';
import type {
  DType,
  FederationSettings__Output,
  Steps,
  Tensor,
  TensorMap,
  TensorSpec__Output,
} from '@tributary/proto';
import { FoldAccumulator } from './fold-kernel.js';
import { narrowToFloat32InPlaceSteps, scaleSteps, weightedMeanOfMetrics } from './kernels.js';
import type { WeightedMetrics } from './kernels.js';
import { rejectAllOptions } from './strategy-options.js';
import { exampleWeight, sampleSites, strategyError } from './strategy.js';
import type { Aggregator, PartialAggregate, RoundContext, SiteConfigContext, SiteUpdate, SlicedSiteUpdate, Strategy } from './strategy.js';

/** Federated averaging: the mean of the sites' models weighted by their numbers of examples. */
export class FedAvgStrategy implements Strategy {
  readonly name = 'fedavg';
  readonly readsGlobalModel = false;

  validateOptions(options: Record<string, string>): Record<string, string> {
    return rejectAllOptions(this.name, options);
  }

  selectSites(
    eligible: string[],
    settings: FederationSettings__Output,
    random: () => number,
  ): string[] {
    return sampleSites(eligible, settings, random);
  }

  siteConfig(_ctx: SiteConfigContext): Record<string, string> {
    return {};
  }

  createAggregator(ctx: RoundContext): FedAvgAggregator {
    return new FedAvgAggregator(ctx.modelSpec);
  }
}

/** Elements folded between two yields to the event loop (4 MiB of float32: a few ms). */
const FOLD_SLICE_ELEMENTS = 1 << 20;

/**
 * Streaming FedAvg: each update is added, times its number of examples, into one float64
 * accumulator per tensor and then dropped, so memory stays at one model in float64 whatever
 * the number of sites.
 */
export class FedAvgAggregator implements Aggregator {
  private readonly spec: TensorSpec__Output[];
  /** Weighted sums per spec tensor; undefined once finished. */
  private sums: Float64Array[] | undefined;
  /** Holds the sums (in WebAssembly linear memory when SIMD is available) and folds into them. */
  private readonly accumulator: FoldAccumulator;
  private readonly siteMetrics: WeightedMetrics[] = [];
  private totalExamples = 0;
  /** Why the sums are incomplete: a sliced fold that failed part way; nothing folds or finishes after it. */
  private spoiled: string | undefined;

  constructor(modelSpec: TensorSpec__Output[]) {
    this.spec = modelSpec;
    this.accumulator = new FoldAccumulator(modelSpec.map((t) => elementCount(t.shape)));
    this.sums = this.accumulator.sums;
  }

  get count(): number {
    return this.siteMetrics.length;
  }

  /**
   * Adds the update's weighted values to the sums. Small updates are folded at once; a tensor
   * larger than FOLD_SLICE_ELEMENTS is folded in slices with a yield to the event loop between
   * them (the promise returned), so a large model's fold never holds the coordinator's loop.
   */
  fold(update: SiteUpdate): void | Promise<void> {
    const sums = this.openSums();
    const weight = exampleWeight(update, 'fedavg');
    // Check every tensor before adding any, so a refused update leaves the sums untouched.
    const values = this.matchingTensors(update, sums).map((t) => (t.data instanceof Float32Array || t.data instanceof Float64Array ? t.data : toFloat64(t)));
    const counted = (): void => {
      this.totalExamples += weight;
      this.siteMetrics.push({ weight, metrics: update.metrics });
    };
    if (values.every((v) => v.length <= FOLD_SLICE_ELEMENTS)) {
      values.forEach((v, i) => this.accumulator.add(i, v, weight));
      counted();
      return;
    }
    return (async () => {
      for (const [i, v] of values.entries()) await this.accumulator.addInSlices(i, v, weight, FOLD_SLICE_ELEMENTS);
      counted();
    })();
  }

  /**
   * Adds a worker's sums as they are (weight 1): the mean is still taken once, in `finish`, so the
   * model equals the one folded here update by update, up to the order of float64 additions.
   */
  async foldPartial(partial: PartialAggregate): Promise<void> {
    const sums = this.openSums();
    if (partial.sums.length !== sums.length || partial.sums.some((s, i) => s.length !== sums[i]!.length)) {
      throw strategyError('INVALID_ARGUMENT', 'fedavg: a partial aggregate does not match the model spec');
    }
    for (const [i, s] of partial.sums.entries()) await this.accumulator.addInSlices(i, s, 1, FOLD_SLICE_ELEMENTS);
    for (const u of partial.updates) {
      const weight = exampleWeight(u, 'fedavg');
      this.totalExamples += weight;
      this.siteMetrics.push({ weight, metrics: u.metrics });
    }
  }

  /**
   * Adds an update read slice by slice (a large model's update is never held whole): the same
   * sums as `fold` to the last bit, since every element is rounded alike however it is sliced.
   * The spec and weight are checked before any value is added; a read failing part way leaves
   * the sums incomplete, and the round then fails at `finish()` rather than commit them.
   */
  async foldSlices(update: SlicedSiteUpdate): Promise<void> {
    const sums = this.openSums();
    const weight = exampleWeight(update, 'fedavg');
    const from = `update ${update.updateId} from site "${update.site}"`;
    const mismatch = checkSpec(this.spec, update.specs);
    if (mismatch !== undefined) throw strategyError('INVALID_ARGUMENT', `${from} does not match the model spec: ${mismatch}`);
    let added = false;
    try {
      for (const [i, spec] of this.spec.entries()) {
        const expected = sums[i]!.length;
        let at = 0;
        for await (const values of update.values(spec.name)) {
          if (at + values.length > expected) throw strategyError('INVALID_ARGUMENT', `${from}: tensor "${spec.name}" holds more than ${expected} values`);
          added = true;
          // A read slice is large (16 MiB): folded in steps, so it never holds the loop whole.
          await this.accumulator.addAtInSlices(i, at, values, weight, FOLD_SLICE_ELEMENTS);
          at += values.length;
        }
        if (at !== expected) throw strategyError('INVALID_ARGUMENT', `${from}: tensor "${spec.name}" holds ${at} values, not ${expected}`);
      }
    } catch (err) {
      if (added) this.spoiled = `${from} failed part way through its fold (${TributaryError.from(err).message}), so the sums are incomplete`;
      throw err;
    }
    this.totalExamples += weight;
    this.siteMetrics.push({ weight, metrics: update.metrics });
  }

  finish(): { model: TensorMap; metrics: Record<string, number> } {
    return runAtOnce(this.finishSteps());
  }

  /**
   * As `finish`, giving the event loop its turns while the mean of a large model is taken and
   * narrowed (the engine prefers it): the same model to the last bit.
   */
  finishInSlices(): Promise<{ model: TensorMap; metrics: Record<string, number> }> {
    return runCooperatively(this.finishSteps());
  }

  private *finishSteps(): Steps<{ model: TensorMap; metrics: Record<string, number> }> {
    const sums = this.openSums();
    if (this.count === 0) {
      throw strategyError('FAILED_PRECONDITION', 'fedavg: no update to aggregate');
    }
    // From here the sums are spent: nothing folds into them while the steps pause.
    this.sums = undefined;
    const model: TensorMap = {};
    for (const [i, t] of this.spec.entries()) {
      const mean = sums[i]!;
      yield* scaleSteps(mean, 1 / this.totalExamples);
      // A float32 tensor's sums become its mean in place: closing the round makes no second
      // copy of the model. Shrinkable sums (too large for the WebAssembly kernel, up to 4 GiB)
      // give back their other half; others (the kernel's linear memory, or larger sums) stay
      // whole until the model is dropped, as fedavg's model is once its blob is written.
      model[t.name] = t.dtype === 'F32' ? tensor('F32', t.shape, yield* narrowToFloat32InPlaceSteps(mean)) : yield* fromFloat64Steps(t.dtype as DType, t.shape, mean);
    }
    const metrics = {
      ...weightedMeanOfMetrics(this.siteMetrics),
      num_sites: this.count,
      num_examples: this.totalExamples,
    };
    return { model, metrics };
  }

  /** The sums to fold into, or STRATEGY_ERROR once finished or spoiled. */
  private openSums(): Float64Array[] {
    if (this.spoiled !== undefined) throw strategyError('FAILED_PRECONDITION', `fedavg: ${this.spoiled}`);
    if (this.sums === undefined) throw strategyError('FAILED_PRECONDITION', 'fedavg: the round was already aggregated');
    return this.sums;
  }

  /** The update's tensors in spec order, or STRATEGY_ERROR naming the first mismatch. */
  private matchingTensors(update: SiteUpdate, sums: Float64Array[]): Tensor[] {
    const mismatch = checkSpec(this.spec, tensorSpecsOf(update.tensors));
    const from = `update ${update.updateId} from site "${update.site}"`;
    if (mismatch !== undefined) {
      throw strategyError('INVALID_ARGUMENT', `${from} does not match the model spec: ${mismatch}`);
    }
    return this.spec.map((spec, i) => {
      const t = update.tensors[spec.name];
      const expected = sums[i]!.length;
      if (t === undefined || t.data.length !== expected) {
        throw strategyError(
          'INVALID_ARGUMENT',
          `${from}: tensor "${spec.name}" does not hold ${expected} values`,
        );
      }
      return t;
    });
  }
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}
