// What the robust strategies (median, trimmed mean, Krum) share: server-side aggregation over
// an UpdateBuffer that keeps the round's updates until finish().

import { TributaryError } from '@tributary/proto';
import type { FederationSettings__Output } from '@tributary/proto';
import { weightedMeanOfMetrics } from './kernels.js';
import type { WeightedMetrics } from './kernels.js';
import type { FloatVector } from './robust-kernels.js';
import { exampleWeight, sampleSites, strategyError } from './strategy.js';
import type { AggregateResult, Aggregator, RoundContext, SiteConfigContext, SiteUpdate, Strategy } from './strategy.js';
import { UpdateBuffer } from './update-buffer.js';

/**
 * A strategy that samples sites like fedavg and tells them nothing: robust aggregation happens on
 * the server alone.
 */
export abstract class ServerSideStrategy implements Strategy {
  abstract readonly name: string;
  abstract validateOptions(options: Record<string, string>): Record<string, string>;
  abstract createAggregator(ctx: RoundContext): Aggregator;

  selectSites(eligible: string[], settings: FederationSettings__Output, random: () => number): string[] {
    return sampleSites(eligible, settings, random);
  }

  siteConfig(_ctx: SiteConfigContext): Record<string, string> {
    return {};
  }
}

/** What an aggregator keeps of a folded update besides its values. */
export interface FoldedUpdate extends WeightedMetrics {
  site: string;
  updateId: string;
}

/**
 * An aggregator that needs every update of the round at once: `fold` stores the update in an
 * UpdateBuffer (memory up to the round's budget, then spill files), `finish` combines them.
 * The model comes back in the spec's dtypes; metrics add the sites' weighted mean metrics,
 * `num_sites`, `num_examples` and `spilled_updates`.
 */
export abstract class BufferedAggregator implements Aggregator {
  protected readonly strategy: string;
  protected readonly buffer: UpdateBuffer;
  /** The folded updates, in the buffer's order. */
  protected readonly folded: FoldedUpdate[] = [];
  private finished = false;

  constructor(strategy: string, ctx: RoundContext) {
    this.strategy = strategy;
    this.buffer = new UpdateBuffer({
      modelSpec: ctx.modelSpec,
      scratchDir: ctx.scratchDir,
      memoryBudgetBytes: ctx.memoryBudgetBytes,
    });
  }

  get count(): number {
    return this.folded.length;
  }

  async fold(update: SiteUpdate): Promise<void> {
    this.assertOpen();
    const weight = exampleWeight(update, this.strategy);
    try {
      await this.buffer.append(update.tensors);
    } catch (err) {
      const e = TributaryError.from(err);
      const from = `update ${update.updateId} from site "${update.site}"`;
      throw TributaryError.of(e.reason, `${from}: ${e.message}`, { code: e.code, cause: err });
    }
    this.folded.push({ site: update.site, updateId: update.updateId, weight, metrics: update.metrics });
  }

  async finish(): Promise<AggregateResult> {
    this.assertOpen();
    if (this.count === 0) throw strategyError('FAILED_PRECONDITION', `${this.strategy}: no update to aggregate`);
    this.finished = true;
    const { values, metrics } = await this.combine();
    return {
      model: this.buffer.unflatten(values),
      metrics: {
        ...weightedMeanOfMetrics(this.folded),
        ...metrics,
        num_sites: this.count,
        num_examples: this.folded.reduce((sum, u) => sum + u.weight, 0),
        spilled_updates: this.buffer.spilledCount,
      },
    };
  }

  async dispose(): Promise<void> {
    this.finished = true;
    await this.buffer.dispose();
  }

  /** The round's model as one vector in the buffer's layout, and the strategy's own metrics. */
  protected abstract combine(): Promise<{ values: Float64Array; metrics: Record<string, number> }>;

  /**
   * Runs a coordinate-wise kernel slice by slice over the updates `indices` (default all),
   * writing each slice's result into one model vector.
   */
  protected async coordinateWise(
    kernel: (rows: FloatVector[], out: Float64Array) => void,
    indices?: readonly number[],
  ): Promise<Float64Array> {
    const values = new Float64Array(this.buffer.length);
    for await (const { start, end, rows } of this.buffer.slices(indices)) kernel(rows, values.subarray(start, end));
    return values;
  }

  private assertOpen(): void {
    if (this.finished) throw strategyError('FAILED_PRECONDITION', `${this.strategy}: the round was already aggregated`);
  }
}
