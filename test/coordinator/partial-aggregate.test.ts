import { tensor, type TensorMap, type TensorSpec__Output } from '@tributary/proto';
import { describe, expect, it } from 'vitest';
import { FedAvgAggregator, FoldAccumulator } from '../../coordinator/src/strategies/index.js';
import { prng } from '../helpers/random.js';

const spec: TensorSpec__Output[] = [
  { name: 'w', dtype: 'F32', shape: [50, 40] },
  { name: 'b', dtype: 'F32', shape: [40] },
];

interface Update {
  site: string;
  updateId: string;
  numExamples: number;
  metrics: Record<string, number>;
  tensors: TensorMap;
}

function updates(count: number): Update[] {
  const random = prng(7);
  return Array.from({ length: count }, (_, i) => ({
    site: `s${i}`,
    updateId: `u${i}`,
    numExamples: 10 + 3 * i,
    metrics: { loss: random() },
    tensors: Object.fromEntries(spec.map((s) => [s.name, tensor('F32', s.shape.map(Number), Float32Array.from({ length: s.shape.reduce<number>((n, d) => n * Number(d), 1) }, () => random() * 2 - 1))])),
  }));
}

/** What a worker hands back: the weighted sums of its updates, in spec order. */
function partialOf(share: readonly Update[]): Float64Array[] {
  const acc = new FoldAccumulator(spec.map((s) => s.shape.reduce<number>((n, d) => n * Number(d), 1)));
  for (const u of share) spec.forEach((s, i) => acc.add(i, u.tensors[s.name]?.data as Float32Array, u.numExamples));
  return acc.sums.map((s) => Float64Array.from(s));
}

describe('FedAvg over partial aggregates', () => {
  it('commits the model of folding every update in one aggregator, within 1e-6 relative', async () => {
    const all = updates(7);
    const single = new FedAvgAggregator(spec);
    for (const u of all) await single.fold({ ...u, flavor: 'tensors' });
    const combined = new FedAvgAggregator(spec);
    await combined.fold({ ...(all[0] as Update), flavor: 'tensors' });
    for (const share of [all.slice(1, 4), all.slice(4)]) await combined.foldPartial({ sums: partialOf(share), updates: share });
    const want = single.finish();
    const got = combined.finish();
    for (const s of spec) {
      const a = got.model[s.name]?.data as Float32Array;
      const b = want.model[s.name]?.data as Float32Array;
      for (let i = 0; i < b.length; i++) expect(Math.abs((a[i] ?? NaN) - (b[i] ?? 0))).toBeLessThanOrEqual(1e-6 * Math.max(1e-3, Math.abs(b[i] ?? 0)));
    }
    expect(got.metrics['num_sites']).toBe(7);
    expect(got.metrics['num_examples']).toBe(want.metrics['num_examples']);
    expect(got.metrics['loss']).toBeCloseTo(want.metrics['loss'] ?? NaN, 12);
  });

  it('refuses sums that do not match the model spec with STRATEGY_ERROR, leaving the aggregate as it was', async () => {
    const aggregator = new FedAvgAggregator(spec);
    await expect(aggregator.foldPartial({ sums: [new Float64Array(3)], updates: [] })).rejects.toMatchObject({ reason: 'STRATEGY_ERROR' });
    expect(aggregator.count).toBe(0);
  });
});
