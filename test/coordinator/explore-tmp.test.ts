import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, fromFloat64, isTributaryError, tensor, toFloat64 } from '@tributary/proto';
import type { Tensor, TensorMap, TensorSpec__Output } from '@tributary/proto';
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
} from './dev-barrel-tmp.js';
import type { AggregateResult, RoundContext, SiteUpdate, Strategy } from './dev-barrel-tmp.js';

// mulberry32: a small seeded PRNG, so every run sees the same "random" data.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomArray(random: () => number, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => (random() - 0.5) * 2 * scale);
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

/** |actual - expected| <= rel·|expected| + abs, element by element. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = 1e-12, abs = 1e-15): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    expect(Math.abs(a - e), `[${i}] = ${a}, expected ${e}`).toBeLessThanOrEqual(rel * Math.abs(e) + abs);
  }
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
  return t.shape.reduce((a, b) => a * b, 1);
}

function modelOf(modelSpec: TensorSpec__Output[], values: (t: TensorSpec__Output) => Float64Array): TensorMap {
  const model: TensorMap = {};
  for (const t of modelSpec) model[t.name] = fromFloat64(t.dtype as 'F64', t.shape, values(t));
  return model;
}

function context(
  modelSpec: TensorSpec__Output[],
  globalModel: TensorMap,
  serverState: TensorMap,
  round: number,
  options: Record<string, string> = {},
): RoundContext {
  return {
    federation: 'churn',
    runId: '0123456789abcdef',
    round,
    globalModel,
    modelSpec,
    options,
    serverState,
    scratchDir: '/nonexistent-scratch',
    memoryBudgetBytes: 1024 ** 3,
  };
}

function siteUpdate(site: string, numExamples: number, tensors: TensorMap): SiteUpdate {
  return { site, updateId: site.padEnd(32, '0'), numExamples, metrics: { loss: numExamples / 100 }, flavor: 'tensors', tensors };
}

/** Sites' models scattered around the global model, with uneven numbers of examples. */
function siteUpdates(random: () => number, modelSpec: TensorSpec__Output[], global: TensorMap, sites = 3): SiteUpdate[] {
  return Array.from({ length: sites }, (_, k) =>
    siteUpdate(
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
  it('explore', async () => {
    const configs: [Kind | 'fedavg', Record<string, string>][] = [
      ['fedavg', {}],
      ['fedavgm', { server_momentum: '0.9' }],
      ['fedavgm', { server_momentum: '0.9', server_learning_rate: '0.5' }],
      ['fedavgm', { server_momentum: '0.7' }],
      ['fedadam', {}], ['fedadam', { eta: '0.05' }], ['fedadam', { eta: '0.03' }], ['fedadam', { tau: '1e-3' }],
      ['fedyogi', {}], ['fedyogi', { eta: '0.1' }], ['fedyogi', { eta: '0.05' }],
      ['fedadagrad', {}], ['fedadagrad', { eta: '0.5' }], ['fedadagrad', { eta: '1' }], ['fedadagrad', { eta: '0.3' }],
    ];
    for (const [kind, options] of configs) {
      const strategy = kind === 'fedavg' ? builtinStrategies().get('fedavg') : strategyOf(kind);
      let global: TensorMap = { w: tensor('F64', [d], new Float64Array(d)) };
      let state: TensorMap = {};
      const start = loss(global['w']!.data as Float64Array) - best;
      const trace: string[] = [];
      for (let round = 1; round <= 30; round++) {
        const x = global['w']!.data as Float64Array;
        const updates = sites.map((site, k) => siteUpdate(`site-${k}`, site.a.length, { w: tensor('F64', [d], localStep(x, site)) }));
        const result = await runRound(strategy, context(wSpec, global, state, round, strategy.validateOptions(options)), updates);
        global = result.model;
        state = result.serverState ?? {};
        if (round % 5 === 0) trace.push(((loss(global['w']!.data as Float64Array) - best) / start).toExponential(1));
      }
      console.log(kind, JSON.stringify(options), trace.join(' '));
    }
  });
});

