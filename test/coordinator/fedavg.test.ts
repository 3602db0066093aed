import { describe, expect, it } from 'vitest';
import { fromFloat64, isTributaryError, tensor, elementCount } from '@tributary/proto';
import type { FederationSettings__Output, TensorMap, TensorSpec__Output } from '@tributary/proto';
import { FedAvgStrategy, builtinStrategies, l2NormOfDifference } from '../../coordinator/src/strategies/index.js';
import { narrowToFloat32InPlace } from '../../coordinator/src/strategies/kernels.js';
import { shrinkableFloat64Array } from '../../coordinator/src/strategies/fold-kernel.js';
import { normaliseSettings } from '../../coordinator/src/rounds/settings.js';
import type { RoundContext, SiteUpdate } from '@tributary/coordinator';
import { caught } from '../helpers/errors.js';
import { valuesOf } from '../helpers/numeric.js';
import { prng } from '../helpers/random.js';
import { roundContext, siteUpdate } from '../helpers/strategy-inputs.js';

const spec: TensorSpec__Output[] = [
  { name: 'dense.weight', dtype: 'F32', shape: [8, 5] },
  { name: 'dense.bias', dtype: 'F64', shape: [5] },
  { name: 'embedding', dtype: 'F16', shape: [4, 3] },
];

function randomModel(random: () => number, modelSpec = spec): TensorMap {
  const model: TensorMap = {};
  for (const t of modelSpec) {
    const n = elementCount(t.shape);
    const values = Float64Array.from({ length: n }, () => (random() - 0.5) * 4);
    model[t.name] = fromFloat64(t.dtype as 'F32' | 'F64' | 'F16', t.shape, values);
  }
  return model;
}

function context(modelSpec = spec, options: Record<string, string> = {}): RoundContext {
  return roundContext({ globalModel: randomModel(prng(99), modelSpec), modelSpec, options });
}

/** sum_k n_k x_k / sum_k n_k, per value, in plain float64. */
function referenceMean(updates: SiteUpdate[], name: string): number[] {
  const total = updates.reduce((s, u) => s + u.numExamples, 0);
  const columns = updates.map((u) => valuesOf(u.tensors[name]!));
  return columns[0]!.map((_, i) => columns.reduce((s, col, k) => s + updates[k]!.numExamples * col[i]!, 0) / total);
}

// Half an ulp of the output dtype, relative, plus a little for float64 summation order.
const RELATIVE_TOLERANCE: Record<string, number> = { F64: 1e-12, F32: 2 ** -24 + 1e-12, F16: 2 ** -11 + 1e-12 };
const ABSOLUTE_TOLERANCE: Record<string, number> = { F64: 1e-15, F32: 1e-30, F16: 2 ** -25 };

function expectMatchesReference(model: TensorMap, updates: SiteUpdate[]): void {
  expect(Object.keys(model)).toEqual(spec.map((t) => t.name));
  for (const t of spec) {
    const out = model[t.name]!;
    expect(out.dtype).toBe(t.dtype);
    expect(out.shape).toEqual(t.shape);
    const expected = referenceMean(updates, t.name);
    const actual = valuesOf(out);
    expect(actual).toHaveLength(expected.length);
    actual.forEach((v, i) => {
      const ref = expected[i]!;
      const bound = Math.abs(ref) * RELATIVE_TOLERANCE[t.dtype]! + ABSOLUTE_TOLERANCE[t.dtype]!;
      expect(Math.abs(v - ref), `${t.name}[${i}] = ${v}, expected ${ref}`).toBeLessThanOrEqual(bound);
    });
  }
}

function aggregate(updates: SiteUpdate[]) {
  const aggregator = new FedAvgStrategy().createAggregator(context());
  for (const u of updates) aggregator.fold(u);
  expect(aggregator.count).toBe(updates.length);
  return aggregator.finish();
}

describe('FedAvg aggregation', () => {
  it('averages several sites weighted by their numbers of examples (F32, F64, F16)', () => {
    const random = prng(1);
    const updates = [
      siteUpdate('alpha', 120, randomModel(random)),
      siteUpdate('beta', 4_500, randomModel(random)),
      siteUpdate('gamma', 37, randomModel(random)),
      siteUpdate('delta', 980, randomModel(random)),
    ];
    expectMatchesReference(aggregate(updates).model, updates);
  });

  it('returns the one site’s model when only one site delivered', () => {
    const only = siteUpdate('alpha', 333, randomModel(prng(2)));
    const { model } = aggregate([only]);
    expectMatchesReference(model, [only]);
    expect(valuesOf(model['dense.weight']!)).toEqual(valuesOf(only.tensors['dense.weight']!));
    expect(model['embedding']!.data).toEqual(only.tensors['embedding']!.data);
  });

  it('is the plain mean when the weights are equal', () => {
    const random = prng(3);
    const updates = [1, 2, 3].map((i) => siteUpdate(`site-${i}`, 50, randomModel(random)));
    const { model } = aggregate(updates);
    expectMatchesReference(model, updates);
    const bias = updates.map((u) => valuesOf(u.tensors['dense.bias']!));
    valuesOf(model['dense.bias']!).forEach((v, i) => {
      expect(v).toBeCloseTo((bias[0]![i]! + bias[1]![i]! + bias[2]![i]!) / 3, 12);
    });
  });

  it('does not depend on the order updates arrive in', () => {
    const random = prng(4);
    const updates = [10, 200, 3_000].map((n, i) => siteUpdate(`site-${i}`, n, randomModel(random)));
    expectMatchesReference(aggregate([...updates].reverse()).model, updates);
  });

  it('weights metrics by examples over the sites that report them, and adds num_sites and num_examples', () => {
    const random = prng(5);
    const { metrics } = aggregate([
      siteUpdate('alpha', 100, randomModel(random), { loss: 1, accuracy: 0.5 }),
      siteUpdate('beta', 300, randomModel(random), { loss: 3 }),
      siteUpdate('gamma', 600, randomModel(random), { accuracy: 0.8, loss: Number.NaN }),
    ]);
    expect(metrics).toEqual({
      loss: (100 * 1 + 300 * 3) / 400,
      accuracy: (100 * 0.5 + 600 * 0.8) / 700,
      num_sites: 3,
      num_examples: 1_000,
    });
  });

  it('refuses an update with zero or negative examples, changing nothing', () => {
    const aggregator = new FedAvgStrategy().createAggregator(context());
    for (const n of [0, -5, Number.NaN]) {
      const err = caught(() => aggregator.fold(siteUpdate('alpha', n, randomModel(prng(6)))));
      expect(isTributaryError(err) && [err.code, err.reason]).toEqual(['INVALID_ARGUMENT', 'ZERO_EXAMPLES']);
    }
    expect(aggregator.count).toBe(0);
  });

  it('refuses tensors that do not match the spec, and the refused update leaves the sums as they were', () => {
    const random = prng(7);
    const good = siteUpdate('alpha', 10, randomModel(random));
    const aggregator = new FedAvgStrategy().createAggregator(context());
    aggregator.fold(good);

    const wrongShape = randomModel(random);
    wrongShape['dense.bias'] = tensor('F64', [6], new Float64Array(6));
    const missing = randomModel(random);
    delete missing['embedding'];
    const wrongDtype = randomModel(random);
    wrongDtype['dense.bias'] = tensor('F32', [5], new Float32Array(5));
    // Declared shape right, data too short: a hand-built map that skipped tensor()'s check.
    const shortData = randomModel(random);
    shortData['dense.weight'] = { dtype: 'F32', shape: [8, 5], data: new Float32Array(39) };

    for (const [what, tensors] of Object.entries({ wrongShape, missing, wrongDtype, shortData })) {
      const err = caught(() => aggregator.fold(siteUpdate('beta', 1_000, tensors)));
      expect(isTributaryError(err) && err.reason, what).toBe('STRATEGY_ERROR');
    }
    expect(aggregator.count).toBe(1);
    expectMatchesReference(aggregator.finish().model, [good]);
  });

  it('refuses to finish a round nothing was folded into, or to finish twice', () => {
    const aggregator = new FedAvgStrategy().createAggregator(context());
    expect((caught(() => aggregator.finish()) as { reason?: string }).reason).toBe('STRATEGY_ERROR');
    aggregator.fold(siteUpdate('alpha', 1, randomModel(prng(8))));
    aggregator.finish();
    expect((caught(() => aggregator.finish()) as { reason?: string }).reason).toBe('STRATEGY_ERROR');
  });
});

describe('FedAvg site selection', () => {
  const sites = Array.from({ length: 10 }, (_, i) => `site-${i}`);
  // Both sampling fields may be set here: the strategy's precedence is what is under test.
  const settings = (over: Partial<FederationSettings__Output>): FederationSettings__Output => ({
    ...normaliseSettings({}),
    ...over,
  });
  const fedavg = new FedAvgStrategy();

  it('takes all eligible sites when neither count nor fraction is set', () => {
    expect(fedavg.selectSites(sites, settings({}), prng(1))).toEqual(sites);
  });

  it('takes sample_count distinct eligible sites, at most all of them', () => {
    const chosen = fedavg.selectSites(sites, settings({ sampleCount: 3 }), prng(1));
    expect(chosen).toHaveLength(3);
    expect(new Set(chosen).size).toBe(3);
    for (const s of chosen) expect(sites).toContain(s);
    expect(fedavg.selectSites(sites, settings({ sampleCount: 25 }), prng(1))).toEqual(sites);
  });

  it('prefers sample_count over sample_fraction', () => {
    expect(fedavg.selectSites(sites, settings({ sampleCount: 2, sampleFraction: 0.9 }), prng(1))).toHaveLength(2);
  });

  it('takes ceil(fraction x eligible) sites, at least one', () => {
    const size = (sampleFraction: number, n = 10) =>
      fedavg.selectSites(sites.slice(0, n), settings({ sampleFraction }), prng(1)).length;
    expect(size(0.3)).toBe(3);
    expect(size(0.25)).toBe(3);
    expect(size(0.01)).toBe(1);
    expect(size(1)).toBe(10);
    expect(size(0.5, 7)).toBe(4);
  });

  it('chooses the same sites given the same random function, and different ones with other seeds', () => {
    const choose = (seed: number) => fedavg.selectSites(sites, settings({ sampleCount: 4 }), prng(seed));
    expect(choose(42)).toEqual(choose(42));
    const distinct = new Set([1, 2, 3, 4, 5, 6].map((seed) => choose(seed).join(',')));
    expect(distinct.size).toBeGreaterThan(1);
  });

  it('gives every site a fair chance', () => {
    const random = prng(11);
    const counts = new Map<string, number>();
    for (let i = 0; i < 5_000; i++) {
      for (const s of fedavg.selectSites(sites, settings({ sampleCount: 3 }), random)) counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    // Each site is expected 1,500 times; the binomial standard deviation is about 32.
    for (const s of sites) expect(Math.abs((counts.get(s) ?? 0) - 1_500)).toBeLessThan(160);
  });

  it('selects nobody from nobody', () => {
    expect(fedavg.selectSites([], settings({ sampleFraction: 0.5 }), prng(1))).toEqual([]);
  });
});

describe('FedAvg options and the strategy registry', () => {
  it('takes no options and refuses an unknown one by name', () => {
    const fedavg = new FedAvgStrategy();
    expect(fedavg.validateOptions({})).toEqual({});
    const err = caught(() => fedavg.validateOptions({ mu: '0.01' }));
    expect(isTributaryError(err) && err.code).toBe('INVALID_ARGUMENT');
    expect((err as Error).message).toContain('"mu"');
    expect(fedavg.siteConfig({ federation: 'churn', runId: '0123456789abcdef', round: 1, modelSpec: spec, options: {} })).toEqual({});
  });

  it('holds fedavg among the built-in strategies and refuses unknown names, listing the known ones', () => {
    const registry = builtinStrategies();
    expect(registry.names()).toContain('fedavg');
    expect(registry.get('fedavg').name).toBe('fedavg');
    const err = caught(() => registry.get('fedsgd'));
    expect(isTributaryError(err) && err.code).toBe('INVALID_ARGUMENT');
    expect((err as Error).message).toMatch(/unknown strategy "fedsgd".*fedavg/);
  });
});

describe('strategy kernels', () => {
  it('computes the L2 norm of a difference', () => {
    expect(l2NormOfDifference(Float64Array.of(1, 2, 3), Float64Array.of(1, 5, 7))).toBe(5);
    expect(l2NormOfDifference(new Float64Array(0), new Float64Array(0))).toBe(0);
  });

  it('rounds float64 values to float32 in their own memory exactly as a new Float32Array would', () => {
    const random = prng(9);
    const values = Float64Array.from({ length: 10_001 }, (_, i) => (random() - 0.5) * 10 ** ((i % 80) - 40));
    values.set([0, -0, 1e39, -1e39, 1e-46, Number.MIN_VALUE, 3.4028235677973366e38, Number.NaN], 0);
    const expected = Float32Array.from(values);
    const narrowed = narrowToFloat32InPlace(values);
    expect(narrowed.buffer).toBe(values.buffer);
    expect(narrowed).toEqual(expected);
  });

  it('gives back the second half of shrinkable sums once they are narrowed to float32', () => {
    const sums = shrinkableFloat64Array(1_000);
    sums.fill(0.1);
    const narrowed = narrowToFloat32InPlace(sums);
    expect(narrowed.buffer.byteLength).toBe(4_000);
    expect(narrowed).toEqual(new Float32Array(1_000).fill(0.1));
  });
});
