import { TributaryError, checkSpec, elementCount, fromFloat64Steps, runAtOnce, runCooperatively, tensor, tensorSpecsOf, toFloat64 } from '@tributary/proto';
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
import type { AggregateResult, Aggregator, PartialAggregate, RoundContext, SiteConfigContext, SiteUpdate, SlicedSiteUpdate, Strategy } from './strategy.js';

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
    const [outcome] = await this.foldSlicesTogether([update]);
    if (outcome?.status === 'rejected') throw outcome.reason;
  }

  /**
   * Adds several updates read slice by slice, each slice of the sums once for all of them (up to
   * FOLD_GROUP per pass): the same sums as `foldSlices` of each in turn, to the last bit. An
   * update whose spec or weight is wrong is refused alone, before any value is added; a read
   * failing part way refuses every update still being folded and leaves the sums incomplete, as
   * in `foldSlices`. Settles per update, in their order.
   */
  async foldSlicesTogether(updates: readonly SlicedSiteUpdate[]): Promise<Array<PromiseSettledResult<void>>> {
    const sums = this.openSums();
    const outcomes: Array<PromiseSettledResult<void>> = updates.map(() => ({ status: 'fulfilled', value: undefined }));
    const taking: Array<{ update: SlicedSiteUpdate; weight: number; at: number }> = [];
    updates.forEach((update, k) => {
      try {
        const weight = exampleWeight(update, 'fedavg');
        const mismatch = checkSpec(this.spec, update.specs);
        if (mismatch !== undefined) throw strategyError('INVALID_ARGUMENT', `${sourceOf(update)} does not match the model spec: ${mismatch}`);
        taking.push({ update, weight, at: k });
      } catch (err) {
        outcomes[k] = { status: 'rejected', reason: err };
      }
    });
    if (taking.length === 0) return outcomes;
    const progress = { added: false };
    try {
      for (const [i, spec] of this.spec.entries()) await this.foldTensorSlices(i, spec.name, sums[i]!.length, taking, progress);
    } catch (err) {
      if (progress.added) {
        const which = taking.length === 1 ? sourceOf(taking[0]!.update) : `${taking.length} updates folded together (${taking.map((t) => t.update.updateId).join(', ')})`;
        this.spoiled = `${which} failed part way through ${taking.length === 1 ? 'its' : 'their'} fold (${TributaryError.from(err).message}), so the sums are incomplete`;
      }
      for (const t of taking) outcomes[t.at] = { status: 'rejected', reason: err };
      return outcomes;
    }
    for (const { update, weight } of taking) {
      this.totalExamples += weight;
      this.siteMetrics.push({ weight, metrics: update.metrics });
    }
    return outcomes;
  }

  /**
   * Folds tensor `index` of every update, reading their slices side by side and folding the span
   * they all hold at once; `progress.added` is set once a value is added. Throws naming the first
   * update whose tensor holds too few or too many values.
   */
  private async foldTensorSlices(
    index: number,
    name: string,
    expected: number,
    taking: ReadonlyArray<{ update: SlicedSiteUpdate; weight: number }>,
    progress: { added: boolean },
  ): Promise<void> {
    const readers = taking.map(({ update }) => update.values(name)[Symbol.asyncIterator]());
    // The current slice of each update and how much of it is folded; a slice stays valid until its reader's next().
    const current = taking.map(() => ({ values: new Float32Array(0) as Float32Array | Float64Array, used: 0, done: false }));
    let at = 0;
    try {
      for (;;) {
        for (const [j, c] of current.entries()) {
          while (!c.done && c.used === c.values.length) {
            const next = await readers[j]!.next();
            if (next.done === true) c.done = true;
            else {
              c.values = next.value;
              c.used = 0;
            }
          }
        }
        const ended = current.findIndex((c) => c.done);
        if (ended >= 0) {
          const going = current.findIndex((c) => !c.done);
          if (at !== expected || going >= 0) {
            const j = at !== expected ? ended : going;
            const held = at !== expected ? `${at} values, not ${expected}` : `more than ${expected} values`;
            throw strategyError('INVALID_ARGUMENT', `${sourceOf(taking[j]!.update)}: tensor "${name}" holds ${held}`);
          }
          return;
        }
        const n = Math.min(...current.map((c) => c.values.length - c.used));
        if (at + n > expected) {
          throw strategyError('INVALID_ARGUMENT', `${sourceOf(taking[0]!.update)}: tensor "${name}" holds more than ${expected} values`);
        }
        progress.added = true;
        const terms = current.map((c, j) => ({ values: c.values.subarray(c.used, c.used + n), weight: taking[j]!.weight }));
        // A read slice is large (16 MiB): folded in steps, so it never holds the loop whole.
        await this.accumulator.addManyAtInSlices(index, at, terms, FOLD_SLICE_ELEMENTS);
        for (const c of current) c.used += n;
        at += n;
      }
    } finally {
      await Promise.allSettled(readers.map((r) => r.return?.()));
    }
  }

  finish(): AggregateResult {
    return runAtOnce(this.finishSteps());
  }

  /**
   * As `finish`, giving the event loop its turns while the mean of a large model is taken and
   * narrowed (the engine prefers it): the same model to the last bit.
   */
  finishInSlices(): Promise<AggregateResult> {
    return runCooperatively(this.finishSteps());
  }

  private *finishSteps(): Steps<AggregateResult> {
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
    // The mean lives in the accumulator's memory: once the engine is done with it, that memory
    // goes to the next round's accumulator instead of being mapped afresh.
    return { model, metrics, release: () => this.accumulator.release() };
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
    const from = sourceOf(update);
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

function sourceOf(update: Pick<SiteUpdate, 'updateId' | 'site'>): string {
  return `update ${update.updateId} from site "${update.site}"`;
}

