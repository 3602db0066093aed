import { FedAvgStrategy } from './fedavg.js';
import { FedAvgMStrategy } from './fedavgm.js';
import { FedOptStrategy } from './fedopt.js';
import { FedProxStrategy } from './fedprox.js';
import { EnsembleStrategy } from './ensemble.js';
import { KrumStrategy, MultiKrumStrategy } from './krum.js';
import { MedianStrategy } from './median.js';
import { TrimmedMeanStrategy } from './trimmed-mean.js';
import { StrategyRegistry } from './strategy.js';

export { FedAvgAggregator, FedAvgStrategy } from './fedavg.js';
export { OPAQUE_PAYLOAD_TENSOR, StrategyRegistry, sampleSites } from './strategy.js';
export type { AggregateResult, Aggregator, PartialAggregate, RoundContext, SiteConfigContext, SiteUpdate, SlicedSiteUpdate, Strategy } from './strategy.js';
export { FOLD_GROUP, FoldAccumulator } from './fold-kernel.js';
export { FedProxStrategy } from './fedprox.js';
export { KrumAggregator, KrumStrategy, MultiKrumStrategy } from './krum.js';
export type { KrumOptions } from './krum.js';
export { MedianAggregator, MedianStrategy } from './median.js';
export { TrimmedMeanAggregator, TrimmedMeanStrategy } from './trimmed-mean.js';
export { BufferedAggregator, ServerSideStrategy } from './robust-strategy.js';
export type { FoldedUpdate } from './robust-strategy.js';
export { UpdateBuffer } from './update-buffer.js';
export type { UpdateBufferOptions, UpdateSlice } from './update-buffer.js';
export {
  accumulatePairwiseSquaredDistances,
  clipToNorm,
  coordinateMedian,
  coordinateTrimmedMean,
  krumScores,
  lowestScores,
  meanOfRows,
  trimCount,
} from './robust-kernels.js';
export type { FloatVector } from './robust-kernels.js';
export { EnsembleAggregator, EnsembleStrategy, MIN_MODE_EPSILON, compileEnsembleOptions, rankEnsembleMembers } from './ensemble.js';
export type { EnsembleOptions, EnsembleWeighting } from './ensemble.js';
export { FedAvgMStrategy, momentumOptimizer } from './fedavgm.js';
export { FedOptStrategy, ServerOptimizerAggregator, adaptiveOptimizer } from './fedopt.js';
export type { AdaptiveParameters, AdaptiveStrategyName, ServerOptimizer } from './fedopt.js';
export {
  adagradSecondMoment,
  adamSecondMoment,
  adaptiveStep,
  firstMoment,
  momentumStep,
  sumOfSquares,
  toPseudoGradient,
  yogiSecondMoment,
} from './optimizer-kernels.js';
export { formatNumberOptions, parseNumberOptions } from './strategy-options.js';
export type { NumberOptionSpec } from './strategy-options.js';
export { SquaredDistance, clipUpdateToNorm, floatValues, isFloatDType, updateNorm } from './update-norm.js';
export { l2NormOfDifference, scale, weightedAccumulate, weightedMeanOfMetrics } from './kernels.js';
export type { WeightedMetrics } from './kernels.js';

/** A registry holding the built-in strategies. */
export function builtinStrategies(): StrategyRegistry {
  const registry = new StrategyRegistry();
  registry.register(new FedAvgStrategy());
  registry.register(new FedProxStrategy());
  registry.register(new FedAvgMStrategy());
  registry.register(new FedOptStrategy('fedadam'));
  registry.register(new FedOptStrategy('fedyogi'));
  registry.register(new FedOptStrategy('fedadagrad'));
  registry.register(new TrimmedMeanStrategy());
  registry.register(new MedianStrategy());
  registry.register(new KrumStrategy());
  registry.register(new MultiKrumStrategy());
  registry.register(new EnsembleStrategy());
  return registry;
}
