import type { FederationSettings__Output } from '@tributary/proto';
import { FedAvgAggregator } from './fedavg.js';
import { formatNumberOptions, parseNumberOptions } from './strategy-options.js';
import type { NumberOptionSpec } from './strategy-options.js';
import { sampleSites } from './strategy.js';
import type { RoundContext, SiteConfigContext, Strategy } from './strategy.js';

/**
 * `mu` weighs the proximal term. Flower requires it (`proximal_mu`); a default of 0.01 lets a
 * federation start without tuning: a mild pull towards the global model, in the middle of the
 * {0.001, 0.01, 0.1, 1} Li et al. search. 0 makes the sites' training plain FedAvg.
 */
const FEDPROX_OPTIONS = {
  mu: { default: 0.01, min: 0 },
} as const satisfies Record<string, NumberOptionSpec>;

/**
 * FedProx (Li et al. 2020, "Federated Optimization in Heterogeneous Networks", MLSys): each site
 * minimises its loss plus (mu / 2)·‖w − w_global‖², which keeps heterogeneous sites from
 * drifting apart; the server aggregates exactly as FedAvg. `mu` reaches the sites in the task
 * config as `{"mu": "<value>"}`.
 */
export class FedProxStrategy implements Strategy {
  readonly name = 'fedprox';
  readonly readsGlobalModel = false;

  validateOptions(options: Record<string, string>): Record<string, string> {
    return formatNumberOptions(parseNumberOptions(this.name, FEDPROX_OPTIONS, options));
  }

  selectSites(eligible: string[], settings: FederationSettings__Output, random: () => number): string[] {
    return sampleSites(eligible, settings, random);
  }

  siteConfig(ctx: SiteConfigContext): Record<string, string> {
    return { mu: String(parseNumberOptions(this.name, FEDPROX_OPTIONS, ctx.options).mu) };
  }

  createAggregator(ctx: RoundContext): FedAvgAggregator {
    return new FedAvgAggregator(ctx.modelSpec);
  }
}
