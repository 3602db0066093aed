export * from '@tributary/coordinator';
export * from '../../coordinator/src/strategies/optimizer-kernels.js';
export { FedOptStrategy, ServerOptimizerAggregator } from '../../coordinator/src/strategies/fedopt.js';
export { FedAvgMStrategy } from '../../coordinator/src/strategies/fedavgm.js';
export { FedProxStrategy } from '../../coordinator/src/strategies/fedprox.js';
