import { Reason, TributaryError } from '@tributary/proto';
import { coordinateMedian } from './robust-kernels.js';
import { BufferedAggregator, ServerSideStrategy } from './robust-strategy.js';
import type { RoundContext } from './strategy.js';

/**
 * Coordinate-wise median (Yin et al. 2018): each parameter of the new model is the median of the
 * sites' values for it, unweighted, so fewer than half the sites cannot drag any parameter
 * outside the range of the honest values.
 */
export class MedianStrategy extends ServerSideStrategy {
  readonly name = 'median';

  validateOptions(options: Record<string, string>): Record<string, string> {
    const [unknown] = Object.keys(options);
    if (unknown !== undefined) {
      throw new TributaryError({
        code: 'INVALID_ARGUMENT',
        reason: Reason.INVALID_ARGUMENT,
        message: `unknown option "${unknown}" for strategy median (it takes none)`,
      });
    }
    return {};
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
