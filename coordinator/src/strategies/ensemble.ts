import { Reason, TributaryError, TENSORS_FLAVOR, ensembleTensors, isEnsembleCombine, payloadFlavorProblem, quoted } from '@tributary/proto';
import type { EnsembleCombine, EnsembleMemberInput, FederationSettings__Output, TensorMap } from '@tributary/proto';
import { weightedMeanOfMetrics } from './kernels.js';
import { OPAQUE_PAYLOAD_TENSOR, sampleSites, strategyError } from './strategy.js';
import type { AggregateResult, Aggregator, RoundContext, SiteConfigContext, SiteUpdate, Strategy } from './strategy.js';

/** How members are weighted: by examples, or by a validation metric every site reports. */
export type EnsembleWeighting =
  | { readonly kind: 'num_examples' }
  | { readonly kind: 'metric'; readonly key: string; readonly mode: 'max' | 'min' };

/** Compiled `ensemble` options. */
export interface EnsembleOptions {
  /** @default { kind: 'num_examples' } */
  readonly weighting: EnsembleWeighting;
  /** Members kept, the highest weights first; 0 keeps all. @default 0 */
  readonly topK: number;
  /** Combination suggested to users of the model (`tributary.ensemble` manifest); none by default. */
  readonly combine?: EnsembleCombine;
}

const OPTION_NAMES = ['weight_by', 'metric_mode', 'top_k', 'combine'] as const;

/**
 * Keeps a member reporting a loss of exactly 0 finite under `metric_mode=min`; such a member
 * then outweighs any other by about 1e12 to its loss, which is the intent.
 */
export const MIN_MODE_EPSILON = 1e-12;

/**
 * Validates `ensemble` options (INVALID_ARGUMENT naming the option): `weight_by` =
 * `num_examples` | `metric:<key>`, `metric_mode` = `max` | `min` (with a metric only),
 * `top_k` = integer >= 0, `combine` = `mean` | `vote`.
 */
export function compileEnsembleOptions(options: Readonly<Record<string, string>>): EnsembleOptions {
  for (const name of Object.keys(options)) {
    if (!(OPTION_NAMES as readonly string[]).includes(name)) {
      throw TributaryError.invalidArgument(`unknown option ${quoted(name)} for strategy ensemble (it takes ${OPTION_NAMES.join(', ')})`);
    }
  }
  const weightBy = options['weight_by'] ?? 'num_examples';
  const mode = options['metric_mode'];
  let weighting: EnsembleWeighting;
  if (weightBy === 'num_examples') {
    if (mode !== undefined) throw TributaryError.invalidArgument('strategy option "metric_mode" applies only with weight_by=metric:<key>');
    weighting = { kind: 'num_examples' };
  } else if (weightBy.startsWith('metric:') && weightBy.length > 'metric:'.length && weightBy.trim() === weightBy) {
    if (mode !== undefined && mode !== 'max' && mode !== 'min') {
      throw TributaryError.invalidArgument(`strategy option "metric_mode" must be "max" (higher is better) or "min" (lower is better), got ${quoted(mode)}`);
    }
    weighting = { kind: 'metric', key: weightBy.slice('metric:'.length), mode: mode ?? 'max' };
  } else {
    throw TributaryError.invalidArgument(`strategy option "weight_by" must be "num_examples" or "metric:<key>", got ${quoted(weightBy)}`);
  }
  const topKText = options['top_k'] ?? '0';
  const topK = Number(topKText);
  if (!/^[0-9]+$/.test(topKText) || !Number.isSafeInteger(topK)) {
    throw TributaryError.invalidArgument(`strategy option "top_k" must be an integer >= 0 (0 keeps all members), got ${quoted(topKText)}`);
  }
  const combine = options['combine'];
  if (combine !== undefined && !isEnsembleCombine(combine)) {
    throw TributaryError.invalidArgument(`strategy option "combine" must be "mean" or "vote", got ${quoted(combine)}`);
  }
  return { weighting, topK, ...(combine === undefined ? {} : { combine }) };
}

/** The options as `validateOptions` returns them: defaults filled in, canonical spelling. */
function optionsRecord(o: EnsembleOptions): Record<string, string> {
  const w = o.weighting;
  return {
    weight_by: w.kind === 'num_examples' ? 'num_examples' : `metric:${w.key}`,
    ...(w.kind === 'metric' ? { metric_mode: w.mode } : {}),
    top_k: String(o.topK),
    ...(o.combine === undefined ? {} : { combine: o.combine }),
  };
}

/**
 * Ensembles: every selected site contributes a whole model, of any architecture or framework
 * (safetensors of any shapes, or opaque bytes such as ONNX), and the round's model is the
 * weighted set of those members, packed by `ensembleTensors`.
 */
export class EnsembleStrategy implements Strategy {
  readonly name = 'ensemble';
  readonly heterogeneous = true;

  validateOptions(options: Record<string, string>): Record<string, string> {
    return optionsRecord(compileEnsembleOptions(options));
  }

  selectSites(eligible: string[], settings: FederationSettings__Output, random: () => number): string[] {
    return sampleSites(eligible, settings, random);
  }

  /** Sites learn which validation metric they must report when members are weighted by one. */
  siteConfig(ctx: SiteConfigContext): Record<string, string> {
    const { weighting } = compileEnsembleOptions(ctx.options);
    return weighting.kind === 'metric' ? { weight_by: `metric:${weighting.key}`, metric_mode: weighting.mode } : {};
  }

  createAggregator(ctx: RoundContext): EnsembleAggregator {
    return new EnsembleAggregator(compileEnsembleOptions(ctx.options));
  }
}

interface HeldMember {
  readonly site: string;
  readonly updateId: string;
  readonly flavor: string;
  readonly numExamples: number;
  readonly metrics: Record<string, number>;
  readonly tensors: TensorMap;
  /** Unnormalised weight under the options' rule. */
  readonly score: number;
}

/**
 * Keeps every folded member (they are whole models, so memory is the sum of the members'
 * sizes), then ranks them by weight, prunes to `top_k` and renormalises at `finish()`.
 */
export class EnsembleAggregator implements Aggregator {
  private readonly options: EnsembleOptions;
  /** Undefined once finished or disposed. */
  private members: HeldMember[] | undefined = [];

  constructor(options: EnsembleOptions) {
    this.options = options;
  }

  get count(): number {
    return this.members?.length ?? 0;
  }

  fold(update: SiteUpdate): void {
    const members = this.members;
    if (members === undefined) throw strategyError('FAILED_PRECONDITION', 'ensemble: the round was already aggregated');
    const from = `update ${update.updateId} from site "${update.site}"`;
    if (!(Number.isSafeInteger(update.numExamples) && update.numExamples > 0)) {
      throw TributaryError.of(Reason.ZERO_EXAMPLES, `${from} has ${update.numExamples} examples; ensemble members need more than 0`);
    }
    if (members.some((m) => m.site === update.site || m.updateId === update.updateId)) {
      throw strategyError('INVALID_ARGUMENT', `${from}: the site or the update is already a member of this round's ensemble`);
    }
    const flavor = payloadFlavorProblem(update.flavor);
    if (flavor !== undefined) throw strategyError('INVALID_ARGUMENT', `${from}: ${flavor}`);
    if (update.flavor !== TENSORS_FLAVOR) {
      const payload = update.tensors[OPAQUE_PAYLOAD_TENSOR];
      if (Object.keys(update.tensors).length !== 1 || payload?.dtype !== 'U8') {
        throw strategyError('INVALID_ARGUMENT', `${from}: a "${update.flavor}" payload must arrive as the single U8 tensor "${OPAQUE_PAYLOAD_TENSOR}"`);
      }
    }
    const score = this.scoreOf(update, from);
    const member: HeldMember = {
      site: update.site,
      updateId: update.updateId,
      flavor: update.flavor,
      numExamples: update.numExamples,
      metrics: { ...update.metrics },
      tensors: update.tensors,
      score,
    };
    // Check the member as the ensemble will store it, so finish() cannot trip over it later.
    try {
      ensembleTensors([memberInput(member, 1)]);
    } catch (err) {
      throw strategyError('INVALID_ARGUMENT', `${from} cannot be an ensemble member: ${TributaryError.from(err).message}`);
    }
    members.push(member);
  }

  finish(): AggregateResult {
    const members = this.members;
    if (members === undefined) throw strategyError('FAILED_PRECONDITION', 'ensemble: the round was already aggregated');
    if (members.length === 0) throw strategyError('FAILED_PRECONDITION', 'ensemble: no update to aggregate');
    this.members = undefined;
    const ranked = rankEnsembleMembers(members, this.options.topK);
    const { tensors, metadata } = ensembleTensors(
      ranked.map(({ index, weight }) => memberInput(members[index]!, weight)),
      this.options.combine === undefined ? {} : { combine: this.options.combine },
    );
    const weights = ranked.map((r) => r.weight);
    const metrics = {
      ...weightedMeanOfMetrics(members.map((m) => ({ weight: m.numExamples, metrics: m.metrics }))),
      num_sites: members.length,
      num_examples: members.reduce((n, m) => n + m.numExamples, 0),
      ensemble_members: ranked.length,
      ensemble_pruned: members.length - ranked.length,
      ensemble_weight_max: Math.max(...weights),
      // 1 / sum(w^2): how many equally weighted members the weights amount to.
      ensemble_effective_members: 1 / weights.reduce((s, w) => s + w * w, 0),
    };
    return { model: tensors, metrics, metadata };
  }

  dispose(): Promise<void> {
    this.members = undefined;
    return Promise.resolve();
  }

  /** The member's unnormalised weight, or STRATEGY_ERROR when the rule cannot weigh it. */
  private scoreOf(update: SiteUpdate, from: string): number {
    const w = this.options.weighting;
    if (w.kind === 'num_examples') return update.numExamples;
    const value = Object.prototype.hasOwnProperty.call(update.metrics, w.key) ? update.metrics[w.key] : undefined;
    if (value === undefined || !Number.isFinite(value)) {
      throw strategyError(
        'INVALID_ARGUMENT',
        `${from} does not report the validation metric "${w.key}" that weighs ensemble members (weight_by=metric:${w.key}); every site must report it as a finite number`,
      );
    }
    if (value < 0) {
      throw strategyError(
        'INVALID_ARGUMENT',
        `${from} reports ${w.key}=${value}; weighting by a metric needs values >= 0 (metric_mode=${w.mode})`,
      );
    }
    return w.mode === 'max' ? value : 1 / (value + MIN_MODE_EPSILON);
  }
}

/**
 * Ranks members by score (highest first, ties broken by site name), keeps the first `topK`
 * (0 keeps all) and normalises their scores into weights summing to 1; when every kept score
 * is 0 the kept members weigh the same. Returns indices into `members`, in rank order.
 */
export function rankEnsembleMembers(
  members: ReadonlyArray<{ readonly site: string; readonly score: number }>,
  topK: number,
): Array<{ index: number; weight: number }> {
  const order = members
    .map((m, index) => ({ index, score: m.score, site: m.site }))
    .sort((a, b) => b.score - a.score || (a.site < b.site ? -1 : a.site > b.site ? 1 : 0));
  const kept = topK > 0 ? order.slice(0, topK) : order;
  const total = kept.reduce((s, m) => s + m.score, 0);
  return kept.map(({ index, score }) => ({ index, weight: total > 0 ? score / total : 1 / kept.length }));
}

function memberInput(m: HeldMember, weight: number): EnsembleMemberInput {
  return {
    site: m.site,
    updateId: m.updateId,
    flavor: m.flavor,
    weight,
    numExamples: m.numExamples,
    metrics: m.metrics,
    tensors: m.tensors,
  };
}
