import {
  TributaryError,
  allFiniteSteps,
  checkSpec,
  elementCount,
  fromFloat64Steps,
  runAtOnce,
  runCooperatively,
  tensor,
  tensorSpecsOf,
  toFloat64,
} from '@tributary/proto';
import type { DType, FederationSettings__Output, Steps, Tensor, TensorData, TensorMap, TensorSpec__Output } from '@tributary/proto';
import { FedAvgAggregator } from './fedavg.js';
import {
  adagradSecondMomentSteps,
  adamSecondMomentSteps,
  adaptiveStepSteps,
  firstMomentSteps,
  sumOfSquaresSteps,
  toPseudoGradientSteps,
  yogiSecondMomentSteps,
} from './optimizer-kernels.js';
import { formatNumberOptions, parseNumberOptions } from './strategy-options.js';
import type { NumberOptionSpec } from './strategy-options.js';
import { sampleSites, strategyError } from './strategy.js';
import type { AggregateResult, Aggregator, RoundContext, SiteConfigContext, SiteUpdate, SlicedSiteUpdate, Strategy } from './strategy.js';

/**
 * The server optimiser of a FedOpt strategy (Reddi et al. 2021, Algorithm 1): how the global
 * model moves along the round's pseudo-gradient, with per-tensor state kept between rounds.
 */
export interface ServerOptimizer {
  /**
   * The state kept per optimised tensor, carried in the server state as F64 tensors named
   * `<slot>/<tensor>`, and the value each element starts from in a run's first round.
   */
  readonly slots: readonly { readonly name: string; readonly initial: number }[];
  /**
   * Moves `x` along the pseudo-gradient `delta`, both float64 and in place, updating `state`
   * (one array per slot, in `slots` order) in place; returns the squared norm of the step. As
   * steps that may pause (see `Steps`), so a large model's step need not hold the event loop.
   */
  step(x: Float64Array, delta: Float64Array, state: Float64Array[]): Steps<number>;
}

/**
 * A round of a FedOpt strategy: the sites' models are averaged by FedAvg's streaming aggregator
 * (memory stays at one model whatever the number of sites), then `finish()` takes one step of
 * the server optimiser from the global model along Δ = mean − global. Float tensors are
 * optimised; integer tensors (I32, I64, U8) keep FedAvg's rounded mean.
 *
 * F16 and BF16 tensors are averaged in float64, so Δ keeps what their 16-bit grid cannot hold
 * (FedAvg would decode them to float64 anyway). F32 and F64 are averaged as FedAvg does: the
 * mean is rounded to the model's dtype, an error no larger than the one storing x_{t+1} makes.
 */
export class ServerOptimizerAggregator implements Aggregator {
  private readonly strategy: string;
  private readonly optimizer: ServerOptimizer;
  private readonly spec: TensorSpec__Output[];
  private readonly globalModel: TensorMap;
  private readonly serverState: TensorMap;
  private readonly mean: FedAvgAggregator;
  /** Names of the 16-bit float tensors, folded as float64. */
  private readonly widened: ReadonlySet<string>;

  constructor(strategy: string, optimizer: ServerOptimizer, ctx: RoundContext) {
    this.strategy = strategy;
    this.optimizer = optimizer;
    this.spec = ctx.modelSpec;
    this.globalModel = ctx.globalModel;
    this.serverState = ctx.serverState;
    this.widened = new Set(ctx.modelSpec.filter((t) => t.dtype === 'F16' || t.dtype === 'BF16').map((t) => t.name));
    this.mean = new FedAvgAggregator(
      ctx.modelSpec.map((t) => (this.widened.has(t.name) ? { ...t, dtype: 'F64' } : t)),
    );
  }

  get count(): number {
    return this.mean.count;
  }

  fold(update: SiteUpdate): void | Promise<void> {
    if (this.widened.size === 0) return this.mean.fold(update);
    // Checked against the real spec first, so a wrong dtype is reported as the site sent it.
    const mismatch = checkSpec(this.spec, tensorSpecsOf(update.tensors));
    if (mismatch !== undefined) {
      throw strategyError('INVALID_ARGUMENT', `update ${update.updateId} from site "${update.site}" does not match the model spec: ${mismatch}`);
    }
    const tensors: TensorMap = { ...update.tensors };
    for (const name of this.widened) {
      const t = tensors[name]!;
      tensors[name] = tensor('F64', t.shape, toFloat64(t));
    }
    return this.mean.fold({ ...update, tensors });
  }

  /** As `fold`, slice by slice: 16-bit float tensors arrive widened to float64 already. */
  async foldSlices(update: SlicedSiteUpdate): Promise<void> {
    if (this.widened.size === 0) return this.mean.foldSlices(update);
    // Checked against the real spec first, so a wrong dtype is reported as the site sent it.
    const mismatch = checkSpec(this.spec, update.specs);
    if (mismatch !== undefined) {
      throw strategyError('INVALID_ARGUMENT', `update ${update.updateId} from site "${update.site}" does not match the model spec: ${mismatch}`);
    }
    const specs = update.specs.map((t) => (this.widened.has(t.name) ? { ...t, dtype: 'F64' } : t));
    await this.mean.foldSlices({ ...update, specs });
  }

  finish(): AggregateResult {
    return runAtOnce(this.stepSteps(this.openMean().finish()));
  }

  /**
   * As `finish`, giving the event loop its turns while the mean is taken and the server step is
   * made (the engine prefers it): the same model, metrics and state to the last bit.
   */
  async finishInSlices(): Promise<AggregateResult> {
    return runCooperatively(this.stepSteps(await this.openMean().finishInSlices()));
  }

  /** FedAvg's aggregator, once something was folded. */
  private openMean(): FedAvgAggregator {
    if (this.count === 0) throw strategyError('FAILED_PRECONDITION', `${this.strategy}: no update to aggregate`);
    return this.mean;
  }

  /** One step of the server optimiser from the global model along the round's mean. */
  private *stepSteps(averaged: { model: TensorMap; metrics: Record<string, number> }): Steps<AggregateResult> {
    const previous = yield* this.previousStateSteps();
    const model: TensorMap = {};
    const serverState: TensorMap = {};
    let gradientSquares = 0;
    let stepSquares = 0;
    for (const spec of this.spec) {
      const mean = averaged.model[spec.name]!;
      if (!isFloat(spec.dtype)) {
        model[spec.name] = mean;
        continue;
      }
      const x = yield* this.globalValuesSteps(spec);
      // FedAvg's result is a fresh array, so a float64 one can become Δ in place.
      const delta = mean.data instanceof Float64Array ? mean.data : yield* float64Steps(mean);
      yield* toPseudoGradientSteps(delta, x);
      gradientSquares += yield* sumOfSquaresSteps(delta);
      const state = previous?.get(spec.name) ?? (yield* this.initialStateSteps(x.length));
      stepSquares += yield* this.optimizer.step(x, delta, state);
      const next = yield* fromFloat64Steps(spec.dtype as DType, spec.shape, x);
      if (!(yield* allFiniteSteps(next))) {
        throw strategyError('FAILED_PRECONDITION', `${this.strategy}: the step left tensor "${spec.name}" with non-finite values (try a smaller server learning rate)`);
      }
      model[spec.name] = next;
      this.optimizer.slots.forEach(({ name }, i) => {
        serverState[`${name}/${spec.name}`] = tensor('F64', spec.shape, state[i]!);
      });
    }
    return {
      model,
      metrics: {
        ...averaged.metrics,
        pseudo_gradient_norm: Math.sqrt(gradientSquares),
        update_norm: Math.sqrt(stepSquares),
      },
      serverState,
    };
  }

  /** Each slot's state at a run's first round: `length` values of the slot's initial value. */
  private *initialStateSteps(length: number): Steps<Float64Array[]> {
    const state: Float64Array[] = [];
    for (const { initial } of this.optimizer.slots) {
      const values = new Float64Array(length);
      for (let start = 0; start < length; start += COPY_STEP_ELEMENTS) {
        if (start > 0) yield;
        values.fill(initial, start, Math.min(start + COPY_STEP_ELEMENTS, length));
      }
      state.push(values);
    }
    return state;
  }

  /** The global model's values of a float tensor, as float64 (a copy: the step writes into it). */
  private *globalValuesSteps(spec: TensorSpec__Output): Steps<Float64Array> {
    const t = this.globalModel[spec.name];
    const expected = elementCount(spec.shape);
    if (t === undefined || t.data.length !== expected) {
      throw strategyError('FAILED_PRECONDITION', `${this.strategy}: the global model has no tensor "${spec.name}" of ${expected} values`);
    }
    return yield* float64Steps(t);
  }

  /**
   * Copies of the state the previous round left, by tensor; undefined at a run's first round
   * (empty state). The copies keep the caller's state intact should this round fail.
   */
  private *previousStateSteps(): Steps<Map<string, Float64Array[]> | undefined> {
    if (Object.keys(this.serverState).length === 0) return undefined;
    const state = new Map<string, Float64Array[]>();
    const expected = new Set<string>();
    for (const spec of this.spec) {
      if (!isFloat(spec.dtype)) continue;
      const arrays: Float64Array[] = [];
      for (const { name } of this.optimizer.slots) {
        const key = `${name}/${spec.name}`;
        expected.add(key);
        arrays.push(yield* float64Steps(stateTensor(this.strategy, key, this.serverState[key], spec.shape)));
      }
      state.set(spec.name, arrays);
    }
    const unexpected = Object.keys(this.serverState).find((key) => !expected.has(key));
    if (unexpected !== undefined) {
      throw strategyError('FAILED_PRECONDITION', `${this.strategy}: the server state holds "${unexpected}", which this strategy and model do not use`);
    }
    return state;
  }
}

/** Which adaptive optimiser a FedOpt strategy runs on the server. */
export type AdaptiveStrategyName = 'fedadam' | 'fedyogi' | 'fedadagrad';

/** The parameters of an adaptive server step (Algorithm 2's η, β1, β2, τ). */
export interface AdaptiveParameters {
  /** Server learning rate η. */
  eta: number;
  /** Momentum β1. */
  beta1: number;
  /** Second-moment decay β2 (unused by Adagrad). */
  beta2: number;
  /** Adaptivity τ: the larger, the less the step adapts to each value's history. */
  tau: number;
}

const POSITIVE = { min: 0, minExclusive: true } as const;
const DECAY = { min: 0, maxExclusive: 1 } as const;

/**
 * Options and defaults of each adaptive strategy: β1 = 0.9, β2 = 0.99 and τ = 1e-3 as Reddi et
 * al. use them (and Flower's current strategies default to); η and η_l are per-task in the
 * paper, so these take Flower's defaults. FedAdagrad takes no β2 and defaults β1 to 0 (Adagrad without momentum, which Flower
 * fixes); β1 stays settable since Algorithm 2 allows momentum there too. `eta_l` is the sites'
 * learning rate: the server only sends it.
 */
const ADAPTIVE_OPTIONS: Readonly<Record<AdaptiveStrategyName, Readonly<Record<string, NumberOptionSpec>>>> = {
  fedadam: {
    eta: { ...POSITIVE, default: 0.1 },
    eta_l: { ...POSITIVE, default: 0.1 },
    beta_1: { ...DECAY, default: 0.9 },
    beta_2: { ...DECAY, default: 0.99 },
    tau: { ...POSITIVE, default: 1e-3 },
  },
  fedyogi: {
    eta: { ...POSITIVE, default: 0.01 },
    eta_l: { ...POSITIVE, default: 0.0316 },
    beta_1: { ...DECAY, default: 0.9 },
    beta_2: { ...DECAY, default: 0.99 },
    tau: { ...POSITIVE, default: 1e-3 },
  },
  fedadagrad: {
    eta: { ...POSITIVE, default: 0.1 },
    eta_l: { ...POSITIVE, default: 0.1 },
    beta_1: { ...DECAY, default: 0 },
    tau: { ...POSITIVE, default: 1e-3 },
  },
};

const SECOND_MOMENTS: Readonly<Record<AdaptiveStrategyName, (v: Float64Array, delta: Float64Array, beta2: number) => Steps<void>>> = {
  fedadam: adamSecondMomentSteps,
  fedyogi: yogiSecondMomentSteps,
  fedadagrad: (v, delta) => adagradSecondMomentSteps(v, delta),
};

/**
 * Adaptive federated optimisation (Reddi et al. 2021, "Adaptive Federated Optimization", ICLR):
 * FedAdam, FedYogi or FedAdagrad on the server, plain SGD at the sites (their learning rate
 * `eta_l` is sent to them). One class, registered under the three names.
 *
 * The step follows Algorithm 2 as published: m starts at 0 and v at τ² (the paper's
 * v_{-1} ≥ τ², where Flower starts v at 0), and no Adam bias correction is applied (Flower's
 * FedAdam scales η by √(1 − β2^(t+1)) / (1 − β1^(t+1)); the paper does not).
 */
export class FedOptStrategy implements Strategy {
  readonly name: AdaptiveStrategyName;

  constructor(name: AdaptiveStrategyName) {
    if (!Object.prototype.hasOwnProperty.call(ADAPTIVE_OPTIONS, name)) {
      throw TributaryError.invalidArgument(
        `unknown adaptive strategy "${String(name)}" (known: ${Object.keys(ADAPTIVE_OPTIONS).join(', ')})`,
      );
    }
    this.name = name;
  }

  validateOptions(options: Record<string, string>): Record<string, string> {
    return formatNumberOptions(this.parse(options));
  }

  selectSites(eligible: string[], settings: FederationSettings__Output, random: () => number): string[] {
    return sampleSites(eligible, settings, random);
  }

  /** The sites' local learning rate, as `{"eta_l": "<value>"}`. */
  siteConfig(ctx: SiteConfigContext): Record<string, string> {
    return { eta_l: String(option(this.parse(ctx.options), 'eta_l')) };
  }

  createAggregator(ctx: RoundContext): ServerOptimizerAggregator {
    const o = this.parse(ctx.options);
    const parameters: AdaptiveParameters = {
      eta: option(o, 'eta'),
      beta1: option(o, 'beta_1'),
      beta2: o['beta_2'] ?? 0,
      tau: option(o, 'tau'),
    };
    return new ServerOptimizerAggregator(this.name, adaptiveOptimizer(this.name, parameters), ctx);
  }

  private parse(options: Record<string, string>): Record<string, number> {
    return parseNumberOptions(this.name, ADAPTIVE_OPTIONS[this.name], options);
  }
}

/** The server optimiser of FedAdam, FedYogi or FedAdagrad: slots `m` (from 0) and `v` (from τ²). */
export function adaptiveOptimizer(name: AdaptiveStrategyName, p: AdaptiveParameters): ServerOptimizer {
  const secondMoment = SECOND_MOMENTS[name];
  return {
    slots: [
      { name: 'm', initial: 0 },
      { name: 'v', initial: p.tau * p.tau },
    ],
    *step(x, delta, [m, v]) {
      yield* firstMomentSteps(m!, delta, p.beta1);
      yield* secondMoment(v!, delta, p.beta2);
      return yield* adaptiveStepSteps(x, m!, v!, p.eta, p.tau);
    },
  };
}

function option(values: Record<string, number>, name: string): number {
  const value = values[name];
  if (value === undefined) throw new RangeError(`option "${name}" was not parsed`);
  return value;
}

/** A tensor of the carried server state, checked to be F64 of the tensor's shape. */
function stateTensor(strategy: string, key: string, t: Tensor | undefined, shape: readonly number[]): Tensor {
  if (t === undefined) throw strategyError('FAILED_PRECONDITION', `${strategy}: the server state carried from the previous round has no tensor "${key}"`);
  if (t.dtype !== 'F64' || !(t.data instanceof Float64Array) || !sameShape(t.shape, shape)) {
    throw strategyError('FAILED_PRECONDITION', `${strategy}: server state tensor "${key}" is ${t.dtype} [${t.shape.join(', ')}], expected F64 [${shape.join(', ')}]`);
  }
  return t;
}

/** Values copied or converted between two pause points (a fraction of a millisecond). */
const COPY_STEP_ELEMENTS = 1 << 16;

/** `toFloat64(t)` (a fresh array) as steps that may pause between runs of COPY_STEP_ELEMENTS values. */
function* float64Steps(t: Tensor): Steps<Float64Array> {
  const out = new Float64Array(t.data.length);
  for (let start = 0; start < out.length; start += COPY_STEP_ELEMENTS) {
    if (start > 0) yield;
    const end = Math.min(start + COPY_STEP_ELEMENTS, out.length);
    out.set(toFloat64({ dtype: t.dtype, shape: [end - start], data: t.data.subarray(start, end) as TensorData }), start);
  }
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function isFloat(dtype: string): boolean {
  return dtype === 'F32' || dtype === 'F64' || dtype === 'F16' || dtype === 'BF16';
}

