import { TributaryError, quoted } from '@tributary/proto';
import { accumulatePairwiseSquaredDistances, krumScores, lowestScores, meanOfRows } from './robust-kernels.js';
import { BufferedAggregator, ServerSideStrategy } from './robust-strategy.js';
import { formatNumberOptions, parseNumberOptions } from './strategy-options.js';
import type { NumberOptionSpec } from './strategy-options.js';
import { strategyError } from './strategy.js';
import type { RoundContext } from './strategy.js';

/** `f`: byzantine sites tolerated; a round then needs more than 2f + 2 updates. */
const KRUM_OPTIONS = {
  f: { default: 0, min: 0 },
} as const satisfies Record<string, NumberOptionSpec>;

/** `m`: how many of the best-scored updates Multi-Krum averages; 0 means n - f. */
const MULTI_KRUM_OPTIONS = {
  ...KRUM_OPTIONS,
  m: { default: 0, min: 0 },
} as const satisfies Record<string, NumberOptionSpec>;

export interface KrumOptions {
  f: number;
  /** Updates averaged: 1 for Krum; 0 for n - f. */
  m: number;
}

/**
 * Krum (Blanchard et al. 2017): scores each update by the sum of its squared distances to its
 * n - f - 2 nearest others and takes the update with the lowest score as the new model.
 */
export class KrumStrategy extends ServerSideStrategy {
  readonly name: string = 'krum';

  validateOptions(options: Record<string, string>): Record<string, string> {
    const { f } = this.parse(options);
    return formatNumberOptions({ f });
  }

  createAggregator(ctx: RoundContext): KrumAggregator {
    return new KrumAggregator(ctx, this.name, this.parse(ctx.options));
  }

  protected parse(options: Record<string, string>): KrumOptions {
    const { f } = parseNumberOptions(this.name, KRUM_OPTIONS, options);
    return { f: integer('f', f, options), m: 1 };
  }
}

/**
 * Multi-Krum (Blanchard et al. 2017): averages, uniformly, the m updates with the lowest Krum
 * scores. Uniformly as in the paper, not by num_examples as Flower does: the count is the
 * sites' own claim, and one byzantine site that passed selection could claim enough examples to
 * outweigh the rest.
 */
export class MultiKrumStrategy extends KrumStrategy {
  override readonly name: string = 'multi-krum';

  override validateOptions(options: Record<string, string>): Record<string, string> {
    return formatNumberOptions({ ...this.parse(options) });
  }

  protected override parse(options: Record<string, string>): KrumOptions {
    const { f, m } = parseNumberOptions(this.name, MULTI_KRUM_OPTIONS, options);
    return { f: integer('f', f, options), m: integer('m', m, options) };
  }
}

/**
 * Buffers the round's updates; at finish accumulates the pairwise distances slice by slice,
 * scores, and averages the min(m, n - f) best slice by slice.
 */
export class KrumAggregator extends BufferedAggregator {
  private readonly options: KrumOptions;

  constructor(ctx: RoundContext, strategy: string, options: KrumOptions) {
    super(strategy, ctx);
    this.options = options;
  }

  protected async combine(): Promise<{ values: Float64Array; metrics: Record<string, number> }> {
    const n = this.count;
    const { f, m } = this.options;
    if (!(n > 2 * f + 2)) {
      throw strategyError(
        'FAILED_PRECONDITION',
        `${this.strategy} tolerates f = ${f} byzantine site(s) only with more than 2f + 2 = ${2 * f + 2} updates, ` +
          `but the round has ${n}: lower f or raise min_sites to at least ${2 * f + 3}`,
      );
    }
    const distances = new Float64Array(n * n);
    for await (const { rows } of this.buffer.slices()) accumulatePairwiseSquaredDistances(rows, distances);
    const selected = lowestScores(krumScores(distances, n, f), m === 0 ? n - f : Math.min(m, n - f));
    const values = await this.coordinateWise((rows, out) => meanOfRows(rows, out), selected);
    return {
      values,
      metrics: {
        krum_selected_count: selected.length,
        krum_selected_examples: selected.reduce((sum, i) => sum + this.folded[i]!.weight, 0),
        krum_f: f,
      },
    };
  }
}

/** `value` if it is an integer, else INVALID_ARGUMENT in the format of the other option errors. */
function integer(name: string, value: number, options: Record<string, string>): number {
  if (Number.isSafeInteger(value)) return value;
  throw TributaryError.invalidArgument(`strategy option "${name}" must be an integer >= 0, got ${quoted(options[name])}`);
}
