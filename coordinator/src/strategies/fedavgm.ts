import type { FederationSettings__Output } from '@tributary/proto';
import { ServerOptimizerAggregator } from './fedopt.js';
import type { ServerOptimizer } from './fedopt.js';
import { momentumStepSteps } from './optimizer-kernels.js';
import { formatNumberOptions, parseNumberOptions } from './strategy-options.js';
import type { NumberOptionSpec } from './strategy-options.js';
import { sampleSites } from './strategy.js';
import type { RoundContext, SiteConfigContext, Strategy } from './strategy.js';

/**
 * Options of FedAvgM, with Flower's defaults (Hsu et al. sweep them rather than fix them):
 * server learning rate 1 and momentum 0, which is exactly FedAvg until the momentum is set
 * (e.g. `server_momentum=0.9`). The effective step is η / (1 − β), so lower η as β rises.
 */
const FEDAVGM_OPTIONS = {
  server_learning_rate: { default: 1, min: 0, minExclusive: true },
  server_momentum: { default: 0, min: 0, maxExclusive: 1 },
} as const satisfies Record<string, NumberOptionSpec>;

/**
 * Federated averaging with server momentum (Hsu et al. 2019, "Measuring the Effects of
 * Non-Identical Data Distribution for Federated Visual Classification"): the FedOpt framework
 * with SGD with momentum on the server, u = β·u + Δ and x = x + η·u, Δ being FedAvg's mean
 * minus the global model. The momentum u is carried as `momentum/<tensor>` in the server state.
 */
export class FedAvgMStrategy implements Strategy {
  readonly name = 'fedavgm';

  validateOptions(options: Record<string, string>): Record<string, string> {
    return formatNumberOptions(parseNumberOptions(this.name, FEDAVGM_OPTIONS, options));
  }

  selectSites(eligible: string[], settings: FederationSettings__Output, random: () => number): string[] {
    return sampleSites(eligible, settings, random);
  }

  siteConfig(_ctx: SiteConfigContext): Record<string, string> {
    return {};
  }

  createAggregator(ctx: RoundContext): ServerOptimizerAggregator {
    const o = parseNumberOptions(this.name, FEDAVGM_OPTIONS, ctx.options);
    return new ServerOptimizerAggregator(this.name, momentumOptimizer(o.server_learning_rate, o.server_momentum), ctx);
  }
}

/** SGD with momentum on the server: slot `momentum`, from 0. */
export function momentumOptimizer(learningRate: number, momentum: number): ServerOptimizer {
  return {
    slots: [{ name: 'momentum', initial: 0 }],
    step: (x, delta, [u]) => momentumStepSteps(x, u!, delta, learningRate, momentum),
  };
}
