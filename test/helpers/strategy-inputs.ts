import type { TensorMap } from '@tributary/proto';
import type { RoundContext, SiteUpdate } from '@tributary/coordinator';

/** A round's context for driving an aggregator directly: round 1, nothing carried over, 1 GiB of memory. */
export function roundContext(fields: Partial<RoundContext> = {}): RoundContext {
  return {
    federation: 'churn',
    runId: '0123456789abcdef',
    round: 1,
    globalModel: {},
    modelSpec: [],
    options: {},
    serverState: {},
    scratchDir: '/nonexistent-scratch',
    memoryBudgetBytes: 1024 ** 3,
    ...fields,
  };
}

/** A "tensors" update from `site`, its update id derived from the site name. */
export function siteUpdate(site: string, numExamples: number, tensors: TensorMap, metrics: Record<string, number> = {}): SiteUpdate {
  return { site, updateId: site.padEnd(32, '0'), numExamples, metrics, flavor: 'tensors', tensors };
}
