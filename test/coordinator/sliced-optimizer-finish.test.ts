import { describe, expect, it } from 'vitest';
import { fromFloat64, runCooperatively, type DType, type TensorMap, type TensorSpec__Output } from '@tributary/proto';
import { FedAvgMStrategy, FedOptStrategy, adaptiveOptimizer, momentumOptimizer } from '../../coordinator/src/strategies/index.js';
import type { AggregateResult, Aggregator, Strategy } from '@tributary/coordinator';
import { prng } from '../helpers/random.js';
import { roundContext, siteUpdate } from '../helpers/strategy-inputs.js';

// Odd lengths around the 65,536 values the steps handle between pauses, every float dtype and an integer one.
const spec: TensorSpec__Output[] = [
  { name: 'dense.weight', dtype: 'F32', shape: [3 * 65536 + 7] },
  { name: 'dense.bias', dtype: 'F64', shape: [65537, 2] },
  { name: 'embedding', dtype: 'F16', shape: [65535, 3] },
  { name: 'norm.scale', dtype: 'BF16', shape: [70001] },
  { name: 'steps', dtype: 'I32', shape: [65539] },
];

const lengthOf = (t: TensorSpec__Output): number => t.shape.reduce((a, b) => a * b, 1);

function modelOf(random: () => number, around?: TensorMap): TensorMap {
  const model: TensorMap = {};
  for (const t of spec) {
    const base = around?.[t.name]?.data;
    const values = Float64Array.from({ length: lengthOf(t) }, (_, i) => {
      const start = base === undefined ? 0 : Number(base[i]);
      return t.dtype === 'I32' ? Math.round(start + (random() - 0.5) * 100) : start + (random() - 0.5) * 4;
    });
    model[t.name] = fromFloat64(t.dtype as DType, t.shape, values);
  }
  return model;
}

const strategies: { name: string; strategy: Strategy; options: Record<string, string> }[] = [
  { name: 'fedadam', strategy: new FedOptStrategy('fedadam'), options: {} },
  { name: 'fedyogi', strategy: new FedOptStrategy('fedyogi'), options: {} },
  { name: 'fedadagrad', strategy: new FedOptStrategy('fedadagrad'), options: { beta_1: '0.5' } },
  { name: 'fedavgm', strategy: new FedAvgMStrategy(), options: { server_learning_rate: '0.7', server_momentum: '0.9' } },
];

function bytesOf(result: AggregateResult): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [name, t] of [...Object.entries(result.model), ...Object.entries(result.serverState ?? {}).map(([k, v]) => [`state:${k}`, v] as const)]) {
    out[name] = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  }
  return out;
}

describe('server optimisers finishing in slices', () => {
  it.each(strategies)('$name gives the same model, state and metrics to the last bit as finishing at once, two rounds running', async ({ strategy, options }) => {
    const random = prng(20261206);
    let global = modelOf(random);
    let state: TensorMap = {};
    for (let round = 1; round <= 2; round++) {
      const updates = [3, 11, 7].map((w, k) => siteUpdate(`site-${k}`, w, modelOf(random, global), { loss: k + 1 }));
      const aggregator = (): Aggregator => {
        const a = strategy.createAggregator(roundContext({ modelSpec: spec, globalModel: global, serverState: state, round, options: strategy.validateOptions(options) }));
        for (const u of updates) void a.fold(u);
        return a;
      };
      const sliced = await aggregator().finishInSlices!();
      const whole = await aggregator().finish();
      const [a, b] = [bytesOf(sliced), bytesOf(whole)];
      expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
      for (const name of Object.keys(b)) expect(a[name]!.equals(b[name]!), name).toBe(true);
      expect(sliced.metrics).toEqual(whole.metrics);
      global = sliced.model;
      state = sliced.serverState ?? {};
    }
  }, 120_000);

  it.each(strategies)('$name lets a timer armed before a large finish fire before the finish resolves', async ({ strategy, options }) => {
    const large: TensorSpec__Output[] = [{ name: 'w', dtype: 'F32', shape: [1 << 20] }];
    const global = { w: fromFloat64('F32', large[0]!.shape, new Float64Array(1 << 20).fill(0.5)) };
    const aggregator = strategy.createAggregator(roundContext({ modelSpec: large, globalModel: global, options: strategy.validateOptions(options) }));
    await aggregator.fold(siteUpdate('a', 1, { w: fromFloat64('F32', large[0]!.shape, new Float64Array(1 << 20).fill(0.25)) }));
    const order: string[] = [];
    const timer = new Promise<void>((resolve) => setTimeout(() => {
      order.push('timer');
      resolve();
    }, 0));
    const finished = aggregator.finishInSlices!().then((r) => {
      order.push('finish');
      return r;
    });
    await Promise.all([timer, finished]);
    expect(order).toEqual(['timer', 'finish']);
    const w = (await finished).model['w']!.data;
    expect(w.length).toBe(1 << 20);
    expect(w[(1 << 20) - 1]).toBe(w[0]);
  }, 60_000);

  it.each([
    { name: 'fedadam', optimizer: adaptiveOptimizer('fedadam', { eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 }) },
    { name: 'fedavgm', optimizer: momentumOptimizer(0.5, 0.9) },
  ])('$name takes its step over a large model in turns of the event loop, timers included', async ({ optimizer }) => {
    // Large enough that the step outlasts two slices on any machine: a timer armed before it can
    // only run once the loop has gone past its check phase twice.
    const n = 1 << 22;
    const x = new Float64Array(n).fill(1);
    const delta = new Float64Array(n).fill(-0.5);
    const state = optimizer.slots.map(({ initial }) => new Float64Array(n).fill(initial));
    const order: string[] = [];
    const timer = new Promise<void>((resolve) => setTimeout(() => {
      order.push('timer');
      resolve();
    }, 0));
    const stepped = runCooperatively(optimizer.step(x, delta, state)).then((squares) => {
      order.push('step');
      return squares;
    });
    await Promise.all([timer, stepped]);
    expect(order).toEqual(['timer', 'step']);
    expect(await stepped).toBeGreaterThan(0);
    expect(x[n - 1]).toBe(x[0]);
  }, 60_000);
});
