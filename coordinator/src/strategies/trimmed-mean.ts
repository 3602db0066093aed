import { coordinateTrimmedMean, trimCount } from './robust-kernels.js';
import { BufferedAggregator, ServerSideStrategy } from './robust-strategy.js';
import { formatNumberOptions, parseNumberOptions } from './strategy-options.js';
import type { NumberOptionSpec } from './strategy-options.js';
import type { RoundContext } from './strategy.js';

/**
 * `beta` is the fraction of the sites trimmed at each end, per coordinate. 0.1 is Flower's
 * FedTrimmedAvg default; to resist f byzantine sites out of n it must reach f / n.
 */
const TRIMMED_MEAN_OPTIONS = {
  beta: { default: 0.1, min: 0, maxExclusive: 0.5 },
} as const satisfies Record<string, NumberOptionSpec>;

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): per parameter, drop the floor(beta x n)
 * smallest and largest of the n sites' values and average the rest, unweighted.
 */
export class TrimmedMeanStrategy extends ServerSideStrategy {
  readonly name = 'trimmed-mean';

  validateOptions(options: Record<string, string>): Record<string, string> {
    return formatNumberOptions(parseNumberOptions(this.name, TRIMMED_MEAN_OPTIONS, options));
  }

  createAggregator(ctx: RoundContext): TrimmedMeanAggregator {
    return new TrimmedMeanAggregator(ctx, parseNumberOptions(this.name, TRIMMED_MEAN_OPTIONS, ctx.options).beta);
  }
}

/** Buffers the round's updates, then takes the trimmed mean coordinate by coordinate, slice by slice. */
export class TrimmedMeanAggregator extends BufferedAggregator {
  private readonly beta: number;

  constructor(ctx: RoundContext, beta: number) {
    super('trimmed-mean', ctx);
    this.beta = beta;
  }

  protected async combine(): Promise<{ values: Float64Array; metrics: Record<string, number> }> {
    const values = await this.coordinateWise((rows, out) => coordinateTrimmedMean(rows, this.beta, out));
    // Per coordinate, this many values go at each end (0 when beta x n < 1: a plain mean).
    return { values, metrics: { trimmed_per_end: trimCount(this.count, this.beta) } };
  }
}
