import { Reason, TributaryError } from '@tributary/proto';
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
}

/** One verified update, as handed to an aggregator. */
export interface SiteUpdate {
  site: string;
  updateId: string;
  numExamples: number;
  metrics: Record<string, number>;
  tensors: TensorMap;
}

/** Folds a round's updates one by one into the round's model (streaming). */
export interface Aggregator {
  /** Folds one verified update in. Never retains `update.tensors` beyond what the strategy needs. */
  fold(update: SiteUpdate): void;
  /** Number folded so far. */
  readonly count: number;
  /** The round's model (same names/dtypes/shapes as the spec) and metrics. Throws TributaryError STRATEGY_ERROR if nothing folded. */
  finish(): { model: TensorMap; metrics: Record<string, number> };
}

/** An aggregation strategy: which sites take part, what they are told, how updates combine. */
export interface Strategy {
  readonly name: string;
  /** Validates options (INVALID_ARGUMENT naming the option) and returns them normalised. */
  validateOptions(options: Record<string, string>): Record<string, string>;
  /** Which of the eligible sites take part, given the settings (sample_fraction / sample_count; deterministic given `random`). */
  selectSites(
    eligible: string[],
    settings: FederationSettings__Output,
    random: () => number,
  ): string[];
  /** Options sent to the selected sites in the task. */
  siteConfig(ctx: Omit<RoundContext, 'globalModel'>): Record<string, string>;
  createAggregator(ctx: RoundContext): Aggregator;
}

/** Strategies by name. */
export class StrategyRegistry {
  private readonly strategies = new Map<string, Strategy>();

  register(strategy: Strategy): void {
    if (this.strategies.has(strategy.name)) {
      throw new TributaryError({
        code: 'ALREADY_EXISTS',
        reason: Reason.ALREADY_EXISTS,
        message: `strategy "${strategy.name}" is already registered`,
      });
    }
    this.strategies.set(strategy.name, strategy);
  }

  /** The strategy called `name`; INVALID_ARGUMENT listing the known ones if there is none. */
  get(name: string): Strategy {
    const strategy = this.strategies.get(name);
    if (strategy === undefined) {
      throw new TributaryError({
        code: 'INVALID_ARGUMENT',
        reason: Reason.INVALID_ARGUMENT,
        message: `unknown strategy "${name}" (known: ${this.names().join(', ')})`,
      });
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
