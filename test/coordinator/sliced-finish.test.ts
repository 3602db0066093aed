import { describe, expect, it } from 'vitest';
import { fromFloat64, toFloat64, type DType, type TensorMap, type TensorSpec__Output, elementCount } from '@tributary/proto';
import { FedAvgAggregator } from '../../coordinator/src/strategies/index.js';
import { prng } from '../helpers/random.js';
import { siteUpdate } from '../helpers/strategy-inputs.js';

// Odd lengths around the 65,536 values the finish converts between pauses, every float dtype.
const spec: TensorSpec__Output[] = [
  { name: 'dense.weight', dtype: 'F32', shape: [3 * 65536 + 7] },
  { name: 'dense.bias', dtype: 'F64', shape: [65537, 2] },
  { name: 'embedding', dtype: 'F16', shape: [65535, 3] },
  { name: 'norm.scale', dtype: 'BF16', shape: [70001] },
  { name: 'steps', dtype: 'I32', shape: [65539] },
];

const lengthOf = (t: TensorSpec__Output): number => elementCount(t.shape);

function randomValues(random: () => number, t: TensorSpec__Output): Float64Array {
  const integer = t.dtype === 'I32';
  return Float64Array.from({ length: lengthOf(t) }, () => (integer ? Math.round((random() - 0.5) * 100) : (random() - 0.5) * 8));
}

function modelOf(values: Float64Array[]): TensorMap {
  const model: TensorMap = {};
  spec.forEach((t, i) => (model[t.name] = fromFloat64(t.dtype as DType, t.shape, values[i]!)));
  return model;
}

/** One value rounded to `dtype` on its own, so no slicing can be involved. */
function roundedAlone(dtype: DType, v: number): number | bigint {
  return fromFloat64(dtype, [1], Float64Array.of(v)).data[0]!;
}

describe('fedavg finishing in slices', () => {
  const random = prng(20261206);
  const weights = [3, 11, 7];
  const updates = weights.map((w, k) => ({ w, values: spec.map((t) => randomValues(random, t)), site: `site-${k}` }));

  function folded(): FedAvgAggregator {
    const aggregator = new FedAvgAggregator(spec);
    for (const u of updates) void aggregator.fold(siteUpdate(u.site, u.w, modelOf(u.values)));
    return aggregator;
  }

  it('gives the same model to the last bit as finishing at once', async () => {
    const sliced = await folded().finishInSlices();
    const whole = folded().finish();
    for (const t of spec) {
      const a = sliced.model[t.name]!.data;
      const b = whole.model[t.name]!.data;
      expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), t.name).toBe(true);
    }
    expect(sliced.metrics).toEqual(whole.metrics);
  });

  it('gives each value as the weighted mean rounded once to its dtype', async () => {
    const { model } = await folded().finishInSlices();
    const total = weights.reduce((a, b) => a + b, 0);
    for (const [i, t] of spec.entries()) {
      const data = model[t.name]!.data;
      expect(data.length).toBe(lengthOf(t));
      // Check every 97th value (and the last) against a float64 reference folded in the same order.
      const indices = [...Array.from({ length: Math.ceil(data.length / 97) }, (_, k) => k * 97), data.length - 1];
      for (const j of indices) {
        let sum = 0;
        for (const u of updates) sum += u.w * sentValue(t.dtype as DType, u.values[i]![j]!);
        expect(data[j], `${t.name}[${j}]`).toBe(roundedAlone(t.dtype as DType, sum * (1 / total)));
      }
    }
  });

  it('refuses to finish twice', async () => {
    const aggregator = folded();
    await aggregator.finishInSlices();
    await expect(aggregator.finishInSlices()).rejects.toMatchObject({ reason: 'STRATEGY_ERROR' });
  });

  it('refuses a fold that arrives while it is finishing', async () => {
    const aggregator = folded();
    const finishing = aggregator.finishInSlices();
    expect(() => aggregator.fold(siteUpdate('late', 1, modelOf(updates[0]!.values)))).toThrow(/already aggregated/);
    await finishing;
  });

  it('lets a timer armed before a large finish fire before the finish resolves', async () => {
    const large: TensorSpec__Output[] = [{ name: 'w', dtype: 'F32', shape: [1 << 23] }];
    const aggregator = new FedAvgAggregator(large);
    await aggregator.fold(siteUpdate('a', 1, { w: fromFloat64('F32', large[0]!.shape, new Float64Array(1 << 23).fill(0.25)) }));
    const order: string[] = [];
    const timer = new Promise<void>((resolve) => setTimeout(() => {
      order.push('timer');
      resolve();
    }, 0));
    const finished = aggregator.finishInSlices().then((r) => {
      order.push('finish');
      return r;
    });
    await Promise.all([timer, finished]);
    expect(order).toEqual(['timer', 'finish']);
    expect((await finished).model['w']!.data[(1 << 23) - 1]).toBe(0.25);
  });
});

/** What the fold adds for a value sent as `dtype`: the value as that dtype holds it, in float64. */
function sentValue(dtype: DType, v: number): number {
  return toFloat64(fromFloat64(dtype, [1], Float64Array.of(v)))[0]!;
}
