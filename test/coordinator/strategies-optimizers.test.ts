import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, fromFloat64, isTributaryError, tensor, toFloat64, elementCount } from '@tributary/proto';
import type { TensorMap, TensorSpec__Output } from '@tributary/proto';
import {
  FedAvgAggregator,
  FedAvgMStrategy,
  FedOptStrategy,
  FedProxStrategy,
  adagradSecondMoment,
  adamSecondMoment,
  adaptiveStep,
  builtinStrategies,
  firstMoment,
  momentumStep,
  sumOfSquares,
  toPseudoGradient,
  yogiSecondMoment,
} from '../../coordinator/src/strategies/index.js';
import type { AggregateResult, RoundContext, SiteUpdate, Strategy } from '@tributary/coordinator';
import { caught } from '../helpers/errors.js';
import { expectAllClose } from '../helpers/numeric.js';
import { prng } from '../helpers/random.js';
import { roundContext, siteUpdate } from '../helpers/strategy-inputs.js';

function randomArray(random: () => number, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => (random() - 0.5) * 2 * scale);
}

// --- independent references: plain float64 loops over number[] ----------------------------

type Kind = 'fedadam' | 'fedyogi' | 'fedadagrad' | 'fedavgm';

interface ReferenceParameters {
  eta: number;
  beta1: number;
  beta2: number;
  tau: number;
}

interface ReferenceState {
  m: number[];
  v: number[];
}

/** One server step of Reddi et al. Algorithm 2 (or FedAvgM, with `m` as its momentum). */
function referenceStep(
  kind: Kind,
  p: ReferenceParameters,
  x: number[],
  mean: number[],
  state: ReferenceState | undefined,
): { x: number[]; state: ReferenceState; delta: number[]; step: number[] } {
  const n = x.length;
  const delta = x.map((xi, i) => mean[i]! - xi);
  const m = state ? [...state.m] : new Array<number>(n).fill(0);
  const v = state ? [...state.v] : new Array<number>(n).fill(kind === 'fedavgm' ? 0 : p.tau * p.tau);
  const step = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    const d = delta[i]!;
    if (kind === 'fedavgm') {
      m[i] = p.beta1 * m[i]! + d;
      step[i] = p.eta * m[i]!;
      continue;
    }
    m[i] = p.beta1 * m[i]! + (1 - p.beta1) * d;
    if (kind === 'fedadagrad') v[i] = v[i]! + d * d;
    if (kind === 'fedyogi') v[i] = v[i]! - (1 - p.beta2) * d * d * Math.sign(v[i]! - d * d);
    if (kind === 'fedadam') v[i] = p.beta2 * v[i]! + (1 - p.beta2) * d * d;
    step[i] = (p.eta * m[i]!) / (Math.sqrt(v[i]!) + p.tau);
  }
  return { x: x.map((xi, i) => xi + step[i]!), state: { m, v }, delta, step };
}

function referenceMean(updates: readonly SiteUpdate[], name: string): number[] {
  const total = updates.reduce((s, u) => s + u.numExamples, 0);
  const columns = updates.map((u) => Array.from(toFloat64(u.tensors[name]!)));
  return columns[0]!.map((_, i) => columns.reduce((s, col, k) => s + updates[k]!.numExamples * col[i]!, 0) / total);
}

const norm = (values: readonly number[]): number => Math.sqrt(values.reduce((s, v) => s + v * v, 0));

// --- driving the aggregators -------------------------------------------------------------

const spec: TensorSpec__Output[] = [
  { name: 'layer.weight', dtype: 'F64', shape: [3, 4] },
  { name: 'layer.bias', dtype: 'F64', shape: [4] },
];

function sizeOf(t: TensorSpec__Output): number {
  return elementCount(t.shape);
}

function modelOf(modelSpec: TensorSpec__Output[], values: (t: TensorSpec__Output) => Float64Array): TensorMap {
  const model: TensorMap = {};
  for (const t of modelSpec) model[t.name] = fromFloat64(t.dtype as 'F64', t.shape, values(t));
  return model;
}

/** τ small enough that a first Adam step is η in every coordinate that moved. */
const TINY_TAU = { tau: '1e-9' };

function context(
  modelSpec: TensorSpec__Output[],
  globalModel: TensorMap,
  serverState: TensorMap,
  round: number,
  options: Record<string, string> = {},
): RoundContext {
  return roundContext({ round, globalModel, modelSpec, options, serverState });
}

/** An update reporting a loss, so the round's metrics have one to average. */
function updateWithLoss(site: string, numExamples: number, tensors: TensorMap): SiteUpdate {
  return siteUpdate(site, numExamples, tensors, { loss: numExamples / 100 });
}

/** Sites' models scattered around the global model, with uneven numbers of examples. */
function siteUpdates(random: () => number, modelSpec: TensorSpec__Output[], global: TensorMap, sites = 3): SiteUpdate[] {
  return Array.from({ length: sites }, (_, k) =>
    updateWithLoss(
      `site-${k}`,
      10 + Math.floor(random() * 990),
      modelOf(modelSpec, (t) => {
        const x = toFloat64(global[t.name]!);
        const noise = randomArray(random, x.length, 0.05);
        // A shared drift plus noise, so the pseudo-gradient has a direction rounds agree on.
        return x.map((xi, i) => xi + 0.02 + noise[i]!);
      }),
    ),
  );
}

async function runRound(strategy: Strategy, ctx: RoundContext, updates: readonly SiteUpdate[]): Promise<AggregateResult> {
  const aggregator = strategy.createAggregator(ctx);
  for (const u of updates) await aggregator.fold(u);
  expect(aggregator.count).toBe(updates.length);
  return aggregator.finish();
}

function strategyOf(kind: Kind): Strategy {
  return kind === 'fedavgm' ? new FedAvgMStrategy() : new FedOptStrategy(kind);
}

const KINDS: Kind[] = ['fedadam', 'fedyogi', 'fedadagrad', 'fedavgm'];

// ------------------------------------------------------------------------------------------

describe('server optimiser kernels', () => {
  const n = 257;
  const random = prng(11);
  const mean = randomArray(random, n, 3);
  const global = randomArray(random, n, 3);
  const delta = randomArray(random, n);
  const m0 = randomArray(random, n);
  const v0 = randomArray(random, n, 0.5).map(Math.abs);

  it('turns the weighted mean into the pseudo-gradient (mean minus global model)', () => {
    const d = Float64Array.from(mean);
    toPseudoGradient(d, global);
    expectAllClose(d, Array.from(mean, (mi, i) => mi - global[i]!), 0, 0);
  });

  it('sums squares', () => {
    let expected = 0;
    for (const v of delta) expected += v * v;
    expect(sumOfSquares(delta)).toBeCloseTo(expected, 12);
    expect(sumOfSquares(new Float64Array(0))).toBe(0);
  });

  it('updates the first moment: m = β1·m + (1 − β1)·Δ', () => {
    const m = Float64Array.from(m0);
    firstMoment(m, delta, 0.9);
    expectAllClose(m, Array.from(m0, (mi, i) => 0.9 * mi + 0.1 * delta[i]!));
  });

  it('updates Adagrad’s second moment: v = v + Δ²', () => {
    const v = Float64Array.from(v0);
    adagradSecondMoment(v, delta);
    expectAllClose(v, Array.from(v0, (vi, i) => vi + delta[i]! ** 2));
  });

  it('updates Yogi’s second moment: v = v − (1 − β2)·Δ²·sign(v − Δ²), both ways and at a tie', () => {
    const v = Float64Array.from(v0);
    yogiSecondMoment(v, delta, 0.99);
    const expected = Array.from(v0, (vi, i) => {
      const d2 = delta[i]! ** 2;
      return vi - 0.01 * d2 * Math.sign(vi - d2);
    });
    expectAllClose(v, expected);
    // v above Δ² shrinks, v below grows, v equal to Δ² stays.
    const cases = Float64Array.of(1, 0.01, 0.25);
    yogiSecondMoment(cases, Float64Array.of(0.5, 0.5, 0.5), 0.9);
    expectAllClose(cases, [1 - 0.1 * 0.25, 0.01 + 0.1 * 0.25, 0.25]);
  });

  it('updates Adam’s second moment: v = β2·v + (1 − β2)·Δ²', () => {
    const v = Float64Array.from(v0);
    adamSecondMoment(v, delta, 0.99);
    expectAllClose(v, Array.from(v0, (vi, i) => 0.99 * vi + 0.01 * delta[i]! ** 2));
  });

  it('steps adaptively: x = x + η·m / (√v + τ), returning the squared norm of the step', () => {
    const x = Float64Array.from(global);
    const squares = adaptiveStep(x, m0, v0, 0.1, 1e-3);
    const step = Array.from(m0, (mi, i) => (0.1 * mi) / (Math.sqrt(v0[i]!) + 1e-3));
    expectAllClose(x, Array.from(global, (xi, i) => xi + step[i]!));
    expect(squares).toBeCloseTo(norm(step) ** 2, 12);
  });

  it('steps with momentum: u = β·u + Δ, x = x + η·u', () => {
    const x = Float64Array.from(global);
    const u = Float64Array.from(m0);
    const squares = momentumStep(x, u, delta, 0.7, 0.9);
    const expectedU = Array.from(m0, (ui, i) => 0.9 * ui + delta[i]!);
    expectAllClose(u, expectedU);
    expectAllClose(x, Array.from(global, (xi, i) => xi + 0.7 * expectedU[i]!));
    expect(squares).toBeCloseTo(norm(expectedU.map((ui) => 0.7 * ui)) ** 2, 12);
  });

  it('refuses arrays of different lengths', () => {
    expect(() => toPseudoGradient(new Float64Array(3), new Float64Array(4))).toThrow(RangeError);
    expect(() => firstMoment(new Float64Array(3), new Float64Array(2), 0.9)).toThrow(RangeError);
    expect(() => adaptiveStep(new Float64Array(3), new Float64Array(3), new Float64Array(2), 0.1, 1e-3)).toThrow(RangeError);
    expect(() => momentumStep(new Float64Array(3), new Float64Array(3), new Float64Array(4), 1, 0)).toThrow(RangeError);
  });
});

describe('adaptive and momentum strategies, round by round', () => {
  const cases: { kind: Kind; options: Record<string, string>; p: ReferenceParameters }[] = [
    { kind: 'fedadam', options: {}, p: { eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 } },
    { kind: 'fedadam', options: { eta: '0.05', beta_1: '0.8', beta_2: '0.9', tau: '1e-3' }, p: { eta: 0.05, beta1: 0.8, beta2: 0.9, tau: 1e-3 } },
    { kind: 'fedyogi', options: {}, p: { eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 } },
    { kind: 'fedadagrad', options: {}, p: { eta: 0.1, beta1: 0, beta2: 0, tau: 1e-3 } },
    { kind: 'fedadagrad', options: { beta_1: '0.5', tau: '0.01' }, p: { eta: 0.1, beta1: 0.5, beta2: 0, tau: 0.01 } },
    { kind: 'fedavgm', options: { server_learning_rate: '0.5', server_momentum: '0.9' }, p: { eta: 0.5, beta1: 0.9, beta2: 0, tau: 0 } },
  ];

  it.each(cases)('$kind $options matches the reference for 3 rounds', async ({ kind, options, p }) => {
    const random = prng(21);
    const strategy = strategyOf(kind);
    const validated = strategy.validateOptions(options);
    let global = modelOf(spec, (t) => randomArray(random, sizeOf(t)));
    let state: TensorMap = {};
    const reference = new Map<string, { x: number[]; state: ReferenceState | undefined }>(
      spec.map((t) => [t.name, { x: Array.from(toFloat64(global[t.name]!)), state: undefined }]),
    );
    for (let round = 1; round <= 3; round++) {
      const updates = siteUpdates(random, spec, global);
      const result = await runRound(strategy, context(spec, global, state, round, validated), updates);
      let gradientSquares = 0;
      let stepSquares = 0;
      for (const t of spec) {
        const ref = reference.get(t.name)!;
        const next = referenceStep(kind, p, ref.x, referenceMean(updates, t.name), ref.state);
        reference.set(t.name, { x: next.x, state: next.state });
        gradientSquares += norm(next.delta) ** 2;
        stepSquares += norm(next.step) ** 2;
        expect(result.model[t.name]!.dtype).toBe('F64');
        expectAllClose(toFloat64(result.model[t.name]!), next.x, 1e-10, 1e-13);
        const slots = kind === 'fedavgm' ? { momentum: next.state.m } : { m: next.state.m, v: next.state.v };
        for (const [slot, values] of Object.entries(slots)) {
          const saved = result.serverState?.[`${slot}/${t.name}`];
          expect(saved?.dtype).toBe('F64');
          expect(saved?.shape).toEqual(t.shape);
          expectAllClose(saved!.data as Float64Array, values, 1e-10, 1e-16);
        }
      }
      expect(Object.keys(result.serverState ?? {})).toHaveLength(spec.length * (kind === 'fedavgm' ? 1 : 2));
      expect(result.metrics['pseudo_gradient_norm']).toBeCloseTo(Math.sqrt(gradientSquares), 10);
      expect(result.metrics['update_norm']).toBeCloseTo(Math.sqrt(stepSquares), 10);
      expect(result.metrics['num_sites']).toBe(updates.length);
      expect(result.metrics['num_examples']).toBe(updates.reduce((s, u) => s + u.numExamples, 0));
      expect(result.metrics['loss']).toBeGreaterThan(0);
      global = result.model;
      state = result.serverState ?? {};
    }
  });

  it('makes FedAvgM with its defaults exactly FedAvg', async () => {
    const random = prng(23);
    const global = modelOf(spec, (t) => randomArray(random, sizeOf(t)));
    const updates = siteUpdates(random, spec, global);
    const { model } = await runRound(new FedAvgMStrategy(), context(spec, global, {}, 1), updates);
    const fedavg = new FedAvgAggregator(spec);
    for (const u of updates) fedavg.fold(u);
    const expected = fedavg.finish().model;
    for (const t of spec) expectAllClose(toFloat64(model[t.name]!), toFloat64(expected[t.name]!), 1e-14, 1e-15);
  });

  it('takes a first FedAdam step of η in every coordinate the sites moved, τ aside (m = 0, v = τ² at the start)', async () => {
    const random = prng(25);
    const global = modelOf(spec, (t) => randomArray(random, sizeOf(t)));
    const { model } = await runRound(new FedOptStrategy('fedadam'), context(spec, global, {}, 1, TINY_TAU), siteUpdates(random, spec, global));
    for (const t of spec) {
      const before = toFloat64(global[t.name]!);
      toFloat64(model[t.name]!).forEach((after, i) => expect(Math.abs(after - before[i]!)).toBeCloseTo(0.1, 4));
    }
  });
});

describe('dtypes under a server optimiser', () => {
  const mixed: TensorSpec__Output[] = [
    { name: 'w', dtype: 'F32', shape: [6] },
    { name: 'e', dtype: 'F16', shape: [2] },
    { name: 'steps', dtype: 'I32', shape: [2] },
  ];

  function mixedModel(w: number[], e: number[], steps: number[]): TensorMap {
    return {
      w: fromFloat64('F32', [6], Float64Array.from(w)),
      e: fromFloat64('F16', [2], Float64Array.from(e)),
      steps: tensor('I32', [2], Int32Array.from(steps)),
    };
  }

  it('optimises float tensors and averages integer tensors like FedAvg, keeping no state for them', async () => {
    const global = mixedModel([0, 1, 2, 3, 4, 5], [1, -1], [10, 20]);
    const updates = [
      updateWithLoss('alpha', 30, mixedModel([0.5, 1.5, 2.5, 3.5, 4.5, 5.5], [1.5, -0.5], [11, 25])),
      updateWithLoss('beta', 10, mixedModel([0.1, 1.1, 2.1, 3.1, 4.1, 5.1], [1.25, -0.75], [13, 21])),
    ];
    const result = await runRound(new FedOptStrategy('fedadam'), context(mixed, global, {}, 1, TINY_TAU), updates);
    const fedavg = new FedAvgAggregator(mixed);
    for (const u of updates) fedavg.fold(u);
    expect(result.model['steps']).toEqual(fedavg.finish().model['steps']);
    expect(Object.keys(result.serverState ?? {}).sort()).toEqual(['m/e', 'm/w', 'v/e', 'v/w']);
    expect(result.model['w']!.dtype).toBe('F32');
    expect(result.model['e']!.dtype).toBe('F16');
    // Every float value moved up by about η = 0.1 (Adam's first step), rounded to its dtype.
    expectAllClose(toFloat64(result.model['w']!), [0.1, 1.1, 2.1, 3.1, 4.1, 5.1], 2 ** -23, 1e-7);
    expectAllClose(toFloat64(result.model['e']!), [1.1, -0.9], 2 ** -10, 0);
  });

  it('averages F16 tensors in float64, so a change finer than the F16 grid still counts', async () => {
    const f16 = [mixed[1]!];
    const one = fromFloat64('F16', [2], Float64Array.of(1, 1));
    const next = fromFloat64('F16', [2], Float64Array.of(1 + 2 ** -10, 1 + 2 ** -10));
    const updates = [updateWithLoss('alpha', 1, { e: next }), updateWithLoss('beta', 1, { e: one })];
    // The mean, 1 + 2^-11, rounds to 1 in F16: FedAvg alone would see no change at all.
    const fedavg = new FedAvgAggregator(f16);
    for (const u of updates) fedavg.fold(u);
    expect(toFloat64(fedavg.finish().model['e']!)).toEqual(Float64Array.of(1, 1));
    const result = await runRound(new FedOptStrategy('fedadam'), context(f16, { e: one }, {}, 1, TINY_TAU), updates);
    expect(result.metrics['pseudo_gradient_norm']).toBeCloseTo(Math.SQRT2 * 2 ** -11, 15);
    expectAllClose(toFloat64(result.model['e']!), [1.1, 1.1], 2 ** -10, 0);
  });

  it('reports a wrongly typed 16-bit tensor as the site sent it and folds nothing', () => {
    const aggregator = new FedOptStrategy('fedyogi').createAggregator(context(mixed, mixedModel([0, 0, 0, 0, 0, 0], [0, 0], [0, 0]), {}, 1));
    const bad = { ...mixedModel([0, 0, 0, 0, 0, 0], [0, 0], [0, 0]), e: tensor('F32', [2], new Float32Array(2)) };
    const err = caught(() => aggregator.fold(updateWithLoss('alpha', 5, bad)));
    expect(isTributaryError(err) && err.reason).toBe('STRATEGY_ERROR');
    expect((err as Error).message).toContain('tensor "e" has dtype F32, expected F16');
    expect(aggregator.count).toBe(0);
  });

  it('fails the round when nothing was folded', () => {
    const aggregator = new FedOptStrategy('fedadam').createAggregator(context(spec, modelOf(spec, (t) => new Float64Array(sizeOf(t))), {}, 1));
    const err = caught(() => aggregator.finish());
    expect(isTributaryError(err) && [err.code, err.reason]).toEqual(['FAILED_PRECONDITION', 'STRATEGY_ERROR']);
    expect((err as Error).message).toContain('fedadam: no update to aggregate');
  });
});

describe('server state across rounds and restarts', () => {
  const f32: TensorSpec__Output[] = [
    { name: 'dense.weight', dtype: 'F32', shape: [5, 3] },
    { name: 'dense.bias', dtype: 'F32', shape: [3] },
  ];

  /** The engine's persistence: the model and the state go through safetensors and back. */
  function persisted(map: TensorMap): TensorMap {
    return decodeSafetensors(encodeSafetensors(map)).tensors;
  }

  it.each(KINDS)('%s resumed from persisted state produces the same rounds as an uninterrupted run', async (kind) => {
    const options: Record<string, string> = kind === 'fedavgm' ? { server_momentum: '0.9', server_learning_rate: '0.3' } : {};
    const initial = modelOf(f32, (t) => randomArray(prng(31), sizeOf(t)));
    // Round r's sites, the same in both runs (they train from that run's global model).
    const rounds = [1, 2, 3, 4].map((r) => (global: TensorMap) => siteUpdates(prng(100 + r), f32, global, 4));

    const straight: AggregateResult[] = [];
    {
      const strategy = strategyOf(kind);
      let global = initial;
      let state: TensorMap = {};
      for (let r = 0; r < rounds.length; r++) {
        const result = await runRound(strategy, context(f32, global, state, r + 1, strategy.validateOptions(options)), rounds[r]!(global));
        straight.push(result);
        global = result.model;
        state = result.serverState ?? {};
      }
    }

    // Two rounds, then a "restart": a new strategy instance, the model and state read back.
    let global = initial;
    let state: TensorMap = {};
    for (let r = 0; r < 2; r++) {
      const strategy = strategyOf(kind);
      const result = await runRound(strategy, context(f32, global, state, r + 1, strategy.validateOptions(options)), rounds[r]!(global));
      global = persisted(result.model);
      state = persisted(result.serverState ?? {});
    }
    expect(Object.values(state).every((t) => t.dtype === 'F64')).toBe(true);
    const restarted = strategyOf(kind);
    for (let r = 2; r < rounds.length; r++) {
      const result = await runRound(restarted, context(f32, global, state, r + 1, restarted.validateOptions(options)), rounds[r]!(global));
      expect(result.model).toEqual(straight[r]!.model);
      expect(result.serverState).toEqual(straight[r]!.serverState);
      expect(result.metrics).toEqual(straight[r]!.metrics);
      global = persisted(result.model);
      state = persisted(result.serverState ?? {});
    }
  });

  it('leaves the given global model and state untouched, so a failed round can be retried', async () => {
    const random = prng(41);
    const strategy = new FedOptStrategy('fedyogi');
    const global = modelOf(f32, (t) => randomArray(random, sizeOf(t)));
    const first = await runRound(strategy, context(f32, global, {}, 1), siteUpdates(random, f32, global));
    const state = first.serverState!;
    const snapshot = encodeSafetensors(state);
    const modelSnapshot = encodeSafetensors(first.model);
    const updates = siteUpdates(random, f32, first.model);
    const a = await runRound(strategy, context(f32, first.model, state, 2), updates);
    const b = await runRound(strategy, context(f32, first.model, state, 2), updates);
    expect(encodeSafetensors(state).equals(snapshot)).toBe(true);
    expect(encodeSafetensors(first.model).equals(modelSnapshot)).toBe(true);
    expect(b.model).toEqual(a.model);
  });

  it('fails the round, naming the tensor, when the carried state does not fit the model', async () => {
    const random = prng(43);
    const global = modelOf(f32, (t) => randomArray(random, sizeOf(t)));
    const updates = siteUpdates(random, f32, global);
    const { serverState } = await runRound(new FedOptStrategy('fedadam'), context(f32, global, {}, 1), updates);
    const { ['v/dense.bias']: _dropped, ...missing } = serverState!;
    const cases: [TensorMap, string][] = [
      [missing, 'no tensor "v/dense.bias"'],
      [{ ...serverState!, 'm/dense.bias': tensor('F32', [3], new Float32Array(3)) }, '"m/dense.bias" is F32 [3], expected F64 [3]'],
      [{ ...serverState!, 'm/dense.bias': tensor('F64', [1, 3], new Float64Array(3)) }, '"m/dense.bias" is F64 [1, 3], expected F64 [3]'],
      [{ ...serverState!, 'momentum/dense.bias': tensor('F64', [3], new Float64Array(3)) }, 'holds "momentum/dense.bias"'],
    ];
    for (const [state, message] of cases) {
      const aggregator = new FedOptStrategy('fedadam').createAggregator(context(f32, global, state, 2));
      for (const u of updates) aggregator.fold(u);
      const err = caught(() => aggregator.finish());
      expect(isTributaryError(err) && [err.code, err.reason]).toEqual(['FAILED_PRECONDITION', 'STRATEGY_ERROR']);
      expect((err as Error).message).toContain(message);
    }
    // FedAvgM's state is not FedAdam's.
    const avgm = await runRound(new FedAvgMStrategy(), context(f32, global, {}, 1), updates);
    const aggregator = new FedOptStrategy('fedadam').createAggregator(context(f32, global, avgm.serverState!, 2));
    for (const u of updates) aggregator.fold(u);
    expect(() => aggregator.finish()).toThrow(/no tensor "m\/dense.weight"/);
  });
});

describe('convergence on a federated least-squares problem', () => {
  // Four sites hold differently distributed rows (A_k, b_k) of one least-squares problem
  // min_x Σ_k ‖A_k x − b_k‖² / (2N). Each round every site takes one gradient step of its own
  // loss from the global model; the weighted mean of their models is then x − η_l·∇L(x).
  const d = 4;
  const random = prng(51);
  const sites = [
    { rows: 40, scale: [1, 0.2, 0.5, 1], shift: 0.5 },
    { rows: 25, scale: [0.3, 1, 1, 0.4], shift: -0.3 },
    { rows: 60, scale: [1, 1, 0.2, 0.6], shift: 0.1 },
    { rows: 15, scale: [0.5, 0.7, 1, 1], shift: -0.6 },
  ].map(({ rows, scale, shift }) => {
    const a = Array.from({ length: rows }, () => scale.map((s) => (random() - 0.5) * 2 * s + shift));
    const truth = [0.6, -0.8, 0.3, 1];
    const b = a.map((row) => row.reduce((s, v, j) => s + v * truth[j]!, 0) + (random() - 0.5) * 0.4 + shift);
    return { a, b };
  });
  const total = sites.reduce((s, site) => s + site.a.length, 0);

  function loss(x: ArrayLike<number>): number {
    let sum = 0;
    for (const { a, b } of sites) {
      a.forEach((row, i) => {
        const r = row.reduce((s, v, j) => s + v * x[j]!, 0) - b[i]!;
        sum += r * r;
      });
    }
    return sum / (2 * total);
  }

  /** The least-squares optimum, from the normal equations by Gaussian elimination. */
  function optimum(): number[] {
    const m = Array.from({ length: d }, () => new Array<number>(d + 1).fill(0));
    for (const { a, b } of sites) {
      a.forEach((row, r) => {
        for (let i = 0; i < d; i++) {
          for (let j = 0; j < d; j++) m[i]![j]! += row[i]! * row[j]!;
          m[i]![d]! += row[i]! * b[r]!;
        }
      });
    }
    for (let c = 0; c < d; c++) {
      for (let r = c + 1; r < d; r++) {
        const f = m[r]![c]! / m[c]![c]!;
        for (let k = c; k <= d; k++) m[r]![k]! -= f * m[c]![k]!;
      }
    }
    const x = new Array<number>(d).fill(0);
    for (let r = d - 1; r >= 0; r--) {
      let s = m[r]![d]!;
      for (let k = r + 1; k < d; k++) s -= m[r]![k]! * x[k]!;
      x[r] = s / m[r]![r]!;
    }
    return x;
  }

  const localLearningRate = 0.1;
  const wSpec: TensorSpec__Output[] = [{ name: 'w', dtype: 'F64', shape: [d] }];

  function localStep(x: Float64Array, { a, b }: { a: number[][]; b: number[] }): Float64Array {
    const gradient = new Float64Array(d);
    a.forEach((row, i) => {
      const r = row.reduce((s, v, j) => s + v * x[j]!, 0) - b[i]!;
      for (let j = 0; j < d; j++) gradient[j]! += (r * row[j]!) / a.length;
    });
    return x.map((xi, j) => xi - localLearningRate * gradient[j]!);
  }

  const best = loss(optimum());
  // Excess loss L(x) − L(x*) after 30 rounds, as a fraction of the start's, at most `factor`
  // (measured: fedavg 0.14, fedavgm 7e-3, fedadam 8e-3 with its defaults, which still
  // oscillates at η = 0.1, and 2e-9 with a smaller η and β1, fedyogi 2e-6, fedadagrad 5e-7).
  const targets: { kind: Kind | 'fedavg'; options: Record<string, string>; factor: number }[] = [
    { kind: 'fedavg', options: {}, factor: 0.2 },
    { kind: 'fedavgm', options: { server_momentum: '0.7' }, factor: 2e-2 },
    { kind: 'fedadam', options: {}, factor: 5e-2 },
    { kind: 'fedadam', options: { eta: '0.05', beta_1: '0.5' }, factor: 1e-5 },
    { kind: 'fedyogi', options: { eta: '0.05', beta_1: '0.5' }, factor: 1e-4 },
    { kind: 'fedadagrad', options: { eta: '0.5' }, factor: 1e-4 },
  ];

  it.each(targets)('$kind $options brings the excess loss below $factor of its start in 30 rounds', async ({ kind, options, factor }) => {
    const strategy = kind === 'fedavg' ? builtinStrategies().get('fedavg') : strategyOf(kind);
    let global: TensorMap = { w: tensor('F64', [d], new Float64Array(d)) };
    let state: TensorMap = {};
    const start = loss(global['w']!.data as Float64Array) - best;
    for (let round = 1; round <= 30; round++) {
      const x = global['w']!.data as Float64Array;
      const updates = sites.map((site, k) => updateWithLoss(`site-${k}`, site.a.length, { w: tensor('F64', [d], localStep(x, site)) }));
      const result = await runRound(strategy, context(wSpec, global, state, round, strategy.validateOptions(options)), updates);
      global = result.model;
      state = result.serverState ?? {};
    }
    const excess = loss(global['w']!.data as Float64Array) - best;
    expect(excess / start).toBeLessThan(factor);
  });
});

describe('FedProx', () => {
  it('sends mu to the sites, 0.01 unless set', () => {
    const fedprox = new FedProxStrategy();
    const site = (options: Record<string, string>) =>
      fedprox.siteConfig({ federation: 'churn', runId: '0123456789abcdef', round: 1, modelSpec: spec, options: fedprox.validateOptions(options) });
    expect(fedprox.validateOptions({})).toEqual({ mu: '0.01' });
    expect(site({})).toEqual({ mu: '0.01' });
    expect(site({ mu: '1e-1' })).toEqual({ mu: '0.1' });
    expect(site({ mu: '0' })).toEqual({ mu: '0' });
  });

  it('aggregates exactly as FedAvg', async () => {
    const random = prng(61);
    const global = modelOf(spec, (t) => randomArray(random, sizeOf(t)));
    const updates = siteUpdates(random, spec, global, 4);
    const result = await runRound(new FedProxStrategy(), context(spec, global, {}, 1, { mu: '0.1' }), updates);
    const fedavg = new FedAvgAggregator(spec);
    for (const u of updates) fedavg.fold(u);
    const { model, metrics, serverState } = fedavg.finish();
    expect({ model: result.model, metrics: result.metrics, serverState: result.serverState }).toEqual({ model, metrics, serverState });
  });

  it('refuses a negative or non-numeric mu and unknown options', () => {
    const fedprox = new FedProxStrategy();
    expect(() => fedprox.validateOptions({ mu: '-0.1' })).toThrow('strategy option "mu" must be a number >= 0, got "-0.1"');
    expect(() => fedprox.validateOptions({ mu: 'lots' })).toThrow('strategy option "mu" must be a number >= 0');
    expect(() => fedprox.validateOptions({ proximal_mu: '0.1' })).toThrow('unknown option "proximal_mu" for strategy fedprox (it takes mu)');
  });
});

describe('optimiser options', () => {
  it('fills in the defaults', () => {
    expect(new FedOptStrategy('fedadam').validateOptions({})).toEqual({ eta: '0.1', eta_l: '0.1', beta_1: '0.9', beta_2: '0.99', tau: '0.001' });
    expect(new FedOptStrategy('fedyogi').validateOptions({})).toEqual({ eta: '0.01', eta_l: '0.0316', beta_1: '0.9', beta_2: '0.99', tau: '0.001' });
    expect(new FedOptStrategy('fedadagrad').validateOptions({})).toEqual({ eta: '0.1', eta_l: '0.1', beta_1: '0', tau: '0.001' });
    expect(new FedAvgMStrategy().validateOptions({})).toEqual({ server_learning_rate: '1', server_momentum: '0' });
  });

  it('normalises the numbers it is given', () => {
    expect(new FedOptStrategy('fedadam').validateOptions({ eta: ' 1E-2 ', beta_2: '.999' })).toMatchObject({ eta: '0.01', beta_2: '0.999' });
  });

  it('refuses a value out of range, naming the option and its range', () => {
    const adam = new FedOptStrategy('fedadam');
    const refusals: [Strategy, Record<string, string>, string][] = [
      [adam, { beta_1: '1' }, 'strategy option "beta_1" must be a number in [0, 1), got "1"'],
      [adam, { beta_2: '-0.1' }, 'strategy option "beta_2" must be a number in [0, 1)'],
      [adam, { eta: '0' }, 'strategy option "eta" must be a number > 0'],
      [adam, { eta_l: 'fast' }, 'strategy option "eta_l" must be a number > 0'],
      [adam, { tau: '0' }, 'strategy option "tau" must be a number > 0'],
      [adam, { tau: '' }, 'strategy option "tau" must be a number > 0'],
      [adam, { eta: 'Infinity' }, 'strategy option "eta" must be a number > 0'],
      [adam, { eta: '0x10' }, 'strategy option "eta" must be a number > 0'],
      [new FedAvgMStrategy(), { server_momentum: '1.5' }, 'strategy option "server_momentum" must be a number in [0, 1)'],
      [new FedAvgMStrategy(), { server_learning_rate: '-1' }, 'strategy option "server_learning_rate" must be a number > 0'],
    ];
    for (const [strategy, options, message] of refusals) {
      const err = caught(() => strategy.validateOptions(options));
      expect(isTributaryError(err) && [err.code, err.reason]).toEqual(['INVALID_ARGUMENT', 'INVALID_ARGUMENT']);
      expect((err as Error).message).toContain(message);
    }
  });

  it('refuses unknown options, listing the ones the strategy takes', () => {
    expect(() => new FedOptStrategy('fedadagrad').validateOptions({ beta_2: '0.9' })).toThrow(
      'unknown option "beta_2" for strategy fedadagrad (it takes eta, eta_l, beta_1, tau)',
    );
    expect(() => new FedAvgMStrategy().validateOptions({ momentum: '0.9' })).toThrow('unknown option "momentum" for strategy fedavgm');
  });

  it('sends the local learning rate eta_l to the sites, and FedAvgM sends nothing', () => {
    const config = (strategy: Strategy, options: Record<string, string>) =>
      strategy.siteConfig({ federation: 'churn', runId: '0123456789abcdef', round: 1, modelSpec: spec, options: strategy.validateOptions(options) });
    expect(config(new FedOptStrategy('fedadam'), {})).toEqual({ eta_l: '0.1' });
    expect(config(new FedOptStrategy('fedyogi'), { eta_l: '0.05' })).toEqual({ eta_l: '0.05' });
    expect(config(new FedOptStrategy('fedadagrad'), {})).toEqual({ eta_l: '0.1' });
    expect(config(new FedAvgMStrategy(), { server_momentum: '0.9' })).toEqual({});
  });

  it('are all built in', () => {
    const registry = builtinStrategies();
    for (const name of ['fedprox', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad']) expect(registry.get(name).name).toBe(name);
  });
});
