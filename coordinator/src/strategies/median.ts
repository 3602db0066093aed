import { coordinateMedian } from './robust-kernels.js';
import { BufferedAggregator, ServerSideStrategy } from './robust-strategy.js';
import { rejectAllOptions } from './strategy-options.js';
import type { RoundContext } from './strategy.js';

/**
 * Coordinate-wise median (Yin et al. 2018): each parameter of the new model is the median of the
 * sites' values for it, unweighted, so fewer than half the sites cannot drag any parameter
 * outside the range of the honest values.
 */
export class MedianStrategy extends ServerSideStrategy {
  readonly name = 'median';

  validateOptions(options: Record<string, string>): Record<string, string> {
    return rejectAllOptions(this.name, options);
  }

  createAggregator(ctx: RoundContext): MedianAggregator {
    return new MedianAggregator(ctx);
  }
}

/** Buffers the round's updates, then takes the median coordinate by coordinate, slice by slice. */
export class MedianAggregator extends BufferedAggregator {
  constructor(ctx: RoundContext) {
    super('median', ctx);
  }

  protected async combine(): Promise<{ values: Float64Array; metrics: Record<string, number> }> {
    const values = await this.coordinateWise((rows, out) => coordinateMedian(rows, out));
    return { values, metrics: {} };
  }
}
