import { FedAvgStrategy } from './fedavg.js';
import { StrategyRegistry } from './strategy.js';

export { FedAvgAggregator, FedAvgStrategy } from './fedavg.js';
export { OPAQUE_PAYLOAD_TENSOR, StrategyRegistry, sampleSites } from './strategy.js';
export type { AggregateResult, Aggregator, RoundContext, SiteConfigContext, SiteUpdate, Strategy } from './strategy.js';
export { l2NormOfDifference, scale, weightedAccumulate, weightedMeanOfMetrics } from './kernels.js';
export type { WeightedMetrics } from './kernels.js';

/** A registry holding the built-in strategies. */
export function builtinStrategies(): StrategyRegistry {
  const registry = new StrategyRegistry();
  registry.register(new FedAvgStrategy());
  return registry;
}
