import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFloat64, isTributaryError, tensor, elementCount } from '@tributary/proto';
import type { TensorMap, TensorSpec__Output } from '@tributary/proto';
import {
  FedAvgStrategy,
  KrumStrategy,
  MedianStrategy,
  MultiKrumStrategy,
  TrimmedMeanStrategy,
  UpdateBuffer,
  accumulatePairwiseSquaredDistances,
  builtinStrategies,
  clipToNorm,
  coordinateMedian,
  coordinateTrimmedMean,
  krumScores,
  lowestScores,
  meanOfRows,
  trimCount,
} from '../../coordinator/src/strategies/index.js';
import type { AggregateResult, FloatVector, RoundContext, SiteUpdate, Strategy } from '../../coordinator/src/strategies/index.js';
import { caught, rejection } from '../helpers/errors.js';
import { expectClose, valuesOf } from '../helpers/numeric.js';
import { prng } from '../helpers/random.js';
import { roundContext, siteUpdate } from '../helpers/strategy-inputs.js';

/** Standard normal draws (Box-Muller) from a seeded uniform source. */
function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

// --- independent references: plain number arrays and loops ---------------------------------

function columnOf(rows: readonly ArrayLike<number>[], j: number): number[] {
  return rows.map((r) => r[j]!);
}

function referenceMedian(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

function referenceTrimmedMean(values: number[], beta: number): number {
  const s = [...values].sort((a, b) => a - b);
  const k = Math.floor(beta * s.length);
  const kept = s.slice(k, s.length - k);
  return kept.reduce((a, b) => a + b, 0) / kept.length;
}

function referenceSquaredDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return sum;
}

function referenceKrumScores(rows: readonly ArrayLike<number>[], f: number): number[] {
  const n = rows.length;
  return rows.map((x, i) => {
    const others = rows.filter((_, j) => j !== i).map((y) => referenceSquaredDistance(x, y));
    return others.sort((a, b) => a - b).slice(0, n - f - 2).reduce((a, b) => a + b, 0);
  });
}

function referenceMean(rows: readonly ArrayLike<number>[]): number[] {
  return Array.from({ length: rows[0]!.length }, (_, j) => rows.reduce((s, r) => s + r[j]!, 0) / rows.length);
}

function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return Math.sqrt(referenceSquaredDistance(a, b));
}

function randomRows(seed: number, n: number, length: number, type: 'F32' | 'F64' = 'F64'): FloatVector[] {
  const random = prng(seed);
  return Array.from({ length: n }, () => {
    const values = Array.from({ length }, () => (random() - 0.5) * 10);
    return type === 'F32' ? Float32Array.from(values) : Float64Array.from(values);
  });
}

/** Small integers, so columns are full of ties. */
function tiedRows(seed: number, n: number, length: number): FloatVector[] {
  const random = prng(seed);
  return Array.from({ length: n }, () => Float64Array.from({ length }, () => Math.floor(random() * 4) - 2));
}

// --- rounds ----------------------------------------------------------------------------------

/** All tensors of a model in spec order, as one plain array. */
function flat(model: TensorMap, modelSpec: readonly TensorSpec__Output[]): number[] {
  return modelSpec.flatMap((t) => valuesOf(model[t.name]!));
}

// 2,600 coordinates, mixed dtypes: more than one 1,024-coordinate slice when the updates spill.
const spec: TensorSpec__Output[] = [
  { name: 'dense.weight', dtype: 'F32', shape: [40, 50] },
  { name: 'dense.bias', dtype: 'F64', shape: [500] },
  { name: 'embedding', dtype: 'F16', shape: [10, 10] },
];
const specLength = 2_600;

/** A model of `spec` holding `values` (spec order), each tensor rounded to its dtype. */
function modelOf(values: ArrayLike<number>, modelSpec = spec): TensorMap {
  const model: TensorMap = {};
  let offset = 0;
  for (const t of modelSpec) {
    const n = elementCount(t.shape);
    model[t.name] = fromFloat64(t.dtype as 'F32' | 'F64' | 'F16', t.shape, Float64Array.from({ length: n }, (_, i) => values[offset + i]!));
    offset += n;
  }
  return model;
}

let scratchRoot: string;
beforeAll(async () => {
  scratchRoot = await mkdtemp(join(tmpdir(), 'tributary-robust-'));
});
afterAll(async () => {
  await rm(scratchRoot, { recursive: true, force: true });
});

let rounds = 0;
function context(options: Record<string, string> = {}, memoryBudgetBytes = 1024 ** 3, modelSpec = spec): RoundContext {
  rounds++;
  return roundContext({
    round: rounds,
    globalModel: modelOf(new Float64Array(specLength)),
    modelSpec,
    options,
    scratchDir: join(scratchRoot, `round-${rounds}`),
    memoryBudgetBytes,
  });
}

async function aggregate(
  strategy: Strategy,
  updates: SiteUpdate[],
  options: Record<string, string> = {},
  memoryBudgetBytes?: number,
): Promise<AggregateResult> {
  const aggregator = strategy.createAggregator(context(strategy.validateOptions(options), memoryBudgetBytes));
  try {
    for (const u of updates) await aggregator.fold(u);
    return await aggregator.finish();
  } finally {
    await aggregator.dispose?.();
  }
}

// --- kernels ---------------------------------------------------------------------------------

describe('coordinate-wise median kernel', () => {
  it.each([1, 2, 3, 4, 7, 10, 33, 40])('matches a sorted reference for %i rows', (n) => {
    const rows = randomRows(n, n, 300);
    const expected = Array.from({ length: 300 }, (_, j) => referenceMedian(columnOf(rows, j)));
    expect(Array.from(coordinateMedian(rows))).toEqual(expected);
  });

  it('handles float32 rows and columns full of ties', () => {
    for (const rows of [randomRows(11, 6, 200, 'F32'), tiedRows(12, 9, 200), tiedRows(13, 40, 200), tiedRows(15, 101, 200)]) {
      const expected = Array.from({ length: 200 }, (_, j) => referenceMedian(columnOf(rows, j)));
      expect(Array.from(coordinateMedian(rows))).toEqual(expected);
    }
  });

  it('is the one row itself for a single site, and writes into a given output', () => {
    const [row] = randomRows(14, 1, 50);
    const out = new Float64Array(50);
    expect(coordinateMedian([row!], out)).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(row!));
  });

  it('refuses rows of different lengths and an empty set', () => {
    expect(() => coordinateMedian([new Float64Array(3), new Float64Array(4)])).toThrow(RangeError);
    expect(() => coordinateMedian([])).toThrow(RangeError);
  });
});

describe('coordinate-wise trimmed mean kernel', () => {
  it.each([
    [1, 0.1],
    [5, 0.1],
    [10, 0.1],
    [10, 0.2],
    [11, 0.45],
    [41, 0.3],
  ])('matches a sorted reference for %i rows at beta %f', (n, beta) => {
    const rows = randomRows(100 + n, n, 250);
    const expected = Array.from({ length: 250 }, (_, j) => referenceTrimmedMean(columnOf(rows, j), beta));
    expectClose(coordinateTrimmedMean(rows, beta), expected);
  });

  it('is the plain mean at beta = 0', () => {
    const rows = randomRows(21, 7, 250, 'F32');
    expectClose(coordinateTrimmedMean(rows, 0), referenceMean(rows));
  });

  it('trims floor(beta x n) at each end, with ties', () => {
    expect([trimCount(10, 0.1), trimCount(9, 0.1), trimCount(20, 0.49), trimCount(3, 0)]).toEqual([1, 0, 9, 0]);
    for (const rows of [tiedRows(22, 12, 100), tiedRows(24, 60, 100)]) {
      const expected = Array.from({ length: 100 }, (_, j) => referenceTrimmedMean(columnOf(rows, j), 0.25));
      expectClose(coordinateTrimmedMean(rows, 0.25), expected);
    }
  });

  it('refuses beta outside [0, 0.5)', () => {
    const rows = randomRows(23, 4, 10);
    for (const beta of [-0.1, 0.5, 0.7, Number.NaN]) expect(() => coordinateTrimmedMean(rows, beta)).toThrow(RangeError);
  });
});

describe('pairwise distances and Krum scores', () => {
  it('accumulates the squared distances of whole rows, also slice by slice', () => {
    const rows = randomRows(31, 7, 1_000, 'F32');
    const whole = accumulatePairwiseSquaredDistances(rows);
    const bySlices = new Float64Array(49);
    for (const [start, end] of [[0, 333], [333, 334], [334, 1_000]] as const) {
      accumulatePairwiseSquaredDistances(rows.map((r) => r.subarray(start, end)), bySlices);
    }
    const expected = rows.flatMap((a) => rows.map((b) => referenceSquaredDistance(a, b)));
    expectClose(whole, expected);
    expectClose(bySlices, expected);
  });

  it.each([
    [3, 0],
    [7, 1],
    [12, 3],
  ])('scores like the reference for n = %i, f = %i', (n, f) => {
    const rows = randomRows(40 + n, n, 120);
    const scores = krumScores(accumulatePairwiseSquaredDistances(rows), n, f);
    expectClose(scores, referenceKrumScores(rows, f));
  });

  it('needs n > 2f + 2', () => {
    const d = accumulatePairwiseSquaredDistances(randomRows(50, 4, 10));
    expect(() => krumScores(d, 4, 1)).toThrow(/n > 2f \+ 2/);
    expect(() => krumScores(accumulatePairwiseSquaredDistances(randomRows(51, 1, 10)), 1, 0)).toThrow(RangeError);
  });

  it('selects the lowest scores, ties to the lower index', () => {
    const scores = Float64Array.from([5, 1, 3, 1, 0]);
    expect(lowestScores(scores, 1)).toEqual([4]);
    expect(lowestScores(scores, 3)).toEqual([4, 1, 3]);
    expect(() => lowestScores(scores, 6)).toThrow(RangeError);
  });

  it('averages rows, and one row is itself exactly', () => {
    const rows = randomRows(52, 5, 100, 'F32');
    expectClose(meanOfRows(rows), referenceMean(rows));
    expect(Array.from(meanOfRows([rows[2]!]))).toEqual(Array.from(rows[2]!));
  });
});

describe('clipToNorm', () => {
  it('scales the difference to the global model down to the bound, keeping its direction', () => {
    const [update, global] = randomRows(60, 2, 500) as [Float64Array, Float64Array];
    const before = Float64Array.from(update);
    const norm = distance(before, global);
    const result = clipToNorm(update, global, norm / 4);
    expect(result).toEqual({ clipped: true, norm });
    expect(distance(update, global)).toBeCloseTo(norm / 4, 9);
    for (let i = 0; i < update.length; i++) {
      expect(update[i]! - global[i]!).toBeCloseTo((before[i]! - global[i]!) / 4, 12);
    }
  });

  it('leaves an update within the bound untouched', () => {
    const [update, global] = randomRows(61, 2, 500) as [Float64Array, Float64Array];
    const before = Float64Array.from(update);
    const norm = distance(update, global);
    expect(clipToNorm(update, global, norm * 1.01)).toEqual({ clipped: false, norm });
    expect(update).toEqual(before);
    const same = Float64Array.from(global);
    expect(clipToNorm(same, global, 1)).toEqual({ clipped: false, norm: 0 });
  });

  it('refuses a bound that is not a positive number and mismatched lengths', () => {
    for (const bound of [0, -1, Number.NaN, Infinity]) {
      expect(() => clipToNorm(new Float64Array(3), new Float64Array(3), bound)).toThrow(RangeError);
    }
    expect(() => clipToNorm(new Float64Array(3), new Float64Array(4), 1)).toThrow(RangeError);
  });
});

// --- the update buffer ---------------------------------------------------------------------

describe('UpdateBuffer', () => {
  const updates = Array.from({ length: 5 }, (_, k) => {
    const random = prng(70 + k);
    return modelOf(Float64Array.from({ length: specLength }, () => (random() - 0.5) * 4));
  });
  const expected = updates.map((u) => flat(u, spec));

  async function filled(memoryBudgetBytes: number): Promise<{ buffer: UpdateBuffer; dir: string }> {
    const dir = join(scratchRoot, `buffer-${memoryBudgetBytes}-${Math.random().toString(36).slice(2)}`);
    const buffer = new UpdateBuffer({ modelSpec: spec, scratchDir: dir, memoryBudgetBytes });
    for (const [i, u] of updates.entries()) expect(await buffer.append(u)).toBe(i);
    return { buffer, dir };
  }

  async function expectContents(buffer: UpdateBuffer): Promise<void> {
    for (const [start, end] of [[0, specLength], [0, 1], [1_999, 2_501], [2_599, 2_600], [7, 7]] as const) {
      for (let i = 0; i < updates.length; i++) {
        expect(Array.from(await buffer.readSlice(i, start, end))).toEqual(expected[i]!.slice(start, end));
      }
    }
    // A slice's rows are only valid until the next slice is read: check each as it comes.
    let covered = 0;
    for await (const { start, end, rows } of buffer.slices()) {
      expect(start).toBe(covered);
      expect(rows.map((r) => Array.from(r))).toEqual(expected.map((e) => e.slice(start, end)));
      covered = end;
    }
    expect(covered).toBe(specLength);
    for await (const { start, end, rows } of buffer.slices([4, 1])) {
      expect(rows.map((r) => Array.from(r))).toEqual([expected[4]!.slice(start, end), expected[1]!.slice(start, end)]);
    }
  }

  it('flattens every tensor in spec order, as float64 when a dtype needs it, and keeps it in memory within the budget', async () => {
    const { buffer, dir } = await filled(1024 ** 2);
    expect([buffer.count, buffer.length, buffer.valueType, buffer.spilledCount]).toEqual([5, specLength, 'float64', 0]);
    expect(buffer.bytesInMemory).toBe(5 * specLength * 8);
    await expectContents(buffer);
    await expect(readdir(dir)).rejects.toThrow(/ENOENT/);
    await buffer.dispose();
  });

  it('stores float32 when every dtype is exact in it', () => {
    const f32 = new UpdateBuffer({ modelSpec: [spec[0]!, spec[2]!, { name: 'ids', dtype: 'U8', shape: [3] }], scratchDir: scratchRoot, memoryBudgetBytes: 0 });
    const withI32 = new UpdateBuffer({ modelSpec: [spec[0]!, { name: 'ids', dtype: 'I32', shape: [3] }], scratchDir: scratchRoot, memoryBudgetBytes: 0 });
    expect([f32.valueType, withI32.valueType]).toEqual(['float32', 'float64']);
  });

  it('spills the updates beyond the budget to one file each in the scratch directory, with the same contents', async () => {
    const { buffer, dir } = await filled(2 * specLength * 8);
    expect([buffer.spilledCount, buffer.bytesInMemory]).toEqual([3, 2 * specLength * 8]);
    expect((await readdir(dir)).length).toBe(3);
    await expectContents(buffer);
    await buffer.dispose();
  });

  it('works with no memory budget at all, reading in small slices, and deletes its files on dispose', async () => {
    const { buffer, dir } = await filled(0);
    expect(buffer.spilledCount).toBe(5);
    expect(buffer.sliceLength).toBe(1_024);
    expect((await readdir(dir)).length).toBe(5);
    await expectContents(buffer);
    await buffer.dispose();
    await expect(readdir(dir)).rejects.toThrow(/ENOENT/);
    await expect(buffer.readSlice(0, 0, 1)).rejects.toThrow(/disposed/);
  });

  it('refuses an update that does not match the spec and stays as it was', async () => {
    const buffer = new UpdateBuffer({ modelSpec: spec, scratchDir: join(scratchRoot, 'refusing'), memoryBudgetBytes: 0 });
    await buffer.append(updates[0]!);
    const wrongShape = { ...updates[1]!, 'dense.bias': tensor('F64', [6], new Float64Array(6)) };
    const shortData = { ...updates[1]!, 'dense.weight': { dtype: 'F32' as const, shape: [40, 50], data: new Float32Array(10) } };
    for (const bad of [wrongShape, shortData]) {
      const err = await rejection(buffer.append(bad));
      expect(isTributaryError(err) && [err.code, err.reason]).toEqual(['INVALID_ARGUMENT', 'STRATEGY_ERROR']);
    }
    expect(buffer.count).toBe(1);
    expect(Array.from(await buffer.readSlice(0, 0, specLength))).toEqual(expected[0]);
    await buffer.dispose();
  });
});

// --- strategies ------------------------------------------------------------------------------

describe('robust strategy options', () => {
  function optionError(strategy: Strategy, options: Record<string, string>): string {
    const err = caught(() => strategy.validateOptions(options));
    if (!isTributaryError(err)) throw err;
    expect(err.code).toBe('INVALID_ARGUMENT');
    return err.message;
  }

  it('fills in the defaults', () => {
    expect(new TrimmedMeanStrategy().validateOptions({})).toEqual({ beta: '0.1' });
    expect(new TrimmedMeanStrategy().validateOptions({ beta: ' 0.25 ' })).toEqual({ beta: '0.25' });
    expect(new MedianStrategy().validateOptions({})).toEqual({});
    expect(new KrumStrategy().validateOptions({})).toEqual({ f: '0' });
    expect(new KrumStrategy().validateOptions({ f: '3' })).toEqual({ f: '3' });
    expect(new MultiKrumStrategy().validateOptions({ f: '2' })).toEqual({ f: '2', m: '0' });
    expect(new MultiKrumStrategy().validateOptions({ m: '3' })).toEqual({ f: '0', m: '3' });
  });

  it('refuses bad values, naming the option', () => {
    for (const beta of ['0.5', '-0.1', 'abc', '', 'NaN', '1e400']) {
      expect(optionError(new TrimmedMeanStrategy(), { beta })).toMatch(/option "beta" must be a number in \[0, 0.5\)/);
    }
    for (const f of ['-1', '1.5', 'two']) expect(optionError(new KrumStrategy(), { f })).toMatch(/option "f" must be .*>= 0/);
    for (const m of ['-2', '2.5']) expect(optionError(new MultiKrumStrategy(), { m })).toMatch(/option "m" must be .*>= 0/);
  });

  it('refuses unknown options, naming them', () => {
    expect(optionError(new MedianStrategy(), { beta: '0.1' })).toMatch(/unknown option "beta" for strategy median \(it takes none\)/);
    expect(optionError(new TrimmedMeanStrategy(), { trim: '0.1' })).toMatch(/unknown option "trim" for strategy trimmed-mean/);
    expect(optionError(new KrumStrategy(), { m: '2' })).toMatch(/unknown option "m" for strategy krum/);
    expect(optionError(new MultiKrumStrategy(), { weighting: 'uniform' })).toMatch(/unknown option "weighting" for strategy multi-krum/);
  });

  it('are built in under their names', () => {
    const registry = builtinStrategies();
    for (const name of ['trimmed-mean', 'median', 'krum', 'multi-krum']) expect(registry.get(name).name).toBe(name);
  });

  it('send nothing to the sites', () => {
    for (const s of [new MedianStrategy(), new TrimmedMeanStrategy(), new KrumStrategy(), new MultiKrumStrategy()]) {
      expect(s.siteConfig({ federation: 'churn', runId: 'r', round: 1, modelSpec: spec, options: {} })).toEqual({});
    }
  });
});

describe('robust aggregation of a round', () => {
  const random = prng(80);
  const vectors = Array.from({ length: 6 }, () => Float64Array.from({ length: specLength }, () => (random() - 0.5) * 4));
  const updates = vectors.map((v, k) => siteUpdate(`site-${k}`, 10 * (k + 1), modelOf(v), { loss: k }));
  /** What the sites sent, after rounding to their dtypes. */
  const sent = updates.map((u) => flat(u.tensors, spec));
  // Half an ulp of each value's output dtype, relative.
  const ulp: Record<string, number> = { F32: 2 ** -24, F64: 1e-15, F16: 2 ** -11 };
  const tolerance = spec.flatMap((t) => Array<number>(elementCount(t.shape)).fill(ulp[t.dtype]!));

  function expectModel(model: TensorMap, expected: number[]): void {
    expect(Object.keys(model)).toEqual(spec.map((t) => t.name));
    for (const t of spec) expect([model[t.name]!.dtype, model[t.name]!.shape]).toEqual([t.dtype, t.shape]);
    const actual = flat(model, spec);
    actual.forEach((v, i) => {
      const bound = Math.abs(expected[i]!) * tolerance[i]! + 1e-12;
      expect(Math.abs(v - expected[i]!), `[${i}] = ${v}, expected ${expected[i]}`).toBeLessThanOrEqual(bound);
    });
  }

  it('median: the coordinate-wise median of what the sites sent, in the spec dtypes', async () => {
    const { model, metrics } = await aggregate(new MedianStrategy(), updates);
    expectModel(model, sent[0]!.map((_, j) => referenceMedian(columnOf(sent, j))));
    expect(metrics).toMatchObject({ num_sites: 6, num_examples: 210, spilled_updates: 0 });
    expect(metrics['loss']).toBeCloseTo((10 * 0 + 20 * 1 + 30 * 2 + 40 * 3 + 50 * 4 + 60 * 5) / 210, 12);
  });

  it('median and trimmed mean of one site are that site', async () => {
    for (const strategy of [new MedianStrategy(), new TrimmedMeanStrategy()]) {
      const { model } = await aggregate(strategy, [updates[3]!]);
      expect(flat(model, spec)).toEqual(sent[3]);
    }
  });

  it('trimmed mean: the coordinate-wise trimmed mean, reporting how many it trimmed at each end', async () => {
    const { model, metrics } = await aggregate(new TrimmedMeanStrategy(), updates, { beta: '0.2' });
    expectModel(model, sent[0]!.map((_, j) => referenceTrimmedMean(columnOf(sent, j), 0.2)));
    expect(metrics['trimmed_per_end']).toBe(1);
    const plain = await aggregate(new TrimmedMeanStrategy(), updates, { beta: '0' });
    expectModel(plain.model, referenceMean(sent));
  });

  it('krum: exactly the update with the lowest score', async () => {
    const best = referenceKrumScores(sent, 1).reduce((b, s, i, all) => (s < all[b]! ? i : b), 0);
    const { model, metrics } = await aggregate(new KrumStrategy(), updates, { f: '1' });
    expect(flat(model, spec)).toEqual(sent[best]);
    expect(metrics).toMatchObject({ krum_selected_count: 1, krum_f: 1, krum_selected_examples: 10 * (best + 1) });
  });

  it('multi-krum: the plain mean of the m best, m = n - f by default and at most', async () => {
    const order = referenceKrumScores(sent, 1)
      .map((s, i) => [s, i] as const)
      .sort((a, b) => a[0] - b[0])
      .map(([, i]) => i);
    const best3 = order.slice(0, 3);
    const uniform = await aggregate(new MultiKrumStrategy(), updates, { f: '1', m: '3' });
    expectModel(uniform.model, referenceMean(best3.map((i) => sent[i]!)));
    const defaults = await aggregate(new MultiKrumStrategy(), updates, { f: '1' });
    const capped = await aggregate(new MultiKrumStrategy(), updates, { f: '1', m: '50' });
    expectModel(defaults.model, referenceMean(order.slice(0, 5).map((i) => sent[i]!)));
    expect([defaults.metrics['krum_selected_count'], capped.metrics['krum_selected_count']]).toEqual([5, 5]);
  });

  it('krum fails the round with a clear message unless n > 2f + 2', async () => {
    for (const [strategy, options, n] of [
      [new KrumStrategy(), { f: '2' }, 6],
      [new KrumStrategy(), {}, 2],
      [new MultiKrumStrategy(), {}, 1],
    ] as const) {
      const err = await rejection(aggregate(strategy, updates.slice(0, n), options));
      expect(isTributaryError(err) && [err.code, err.reason]).toEqual(['FAILED_PRECONDITION', 'STRATEGY_ERROR']);
      expect((err as Error).message).toMatch(/more than 2f \+ 2 = \d+ updates, but the round has \d+: lower f or raise min_sites/);
    }
  });

  it('gives the same model whether the updates stay in memory or spill to files', async () => {
    const cases: [Strategy, Record<string, string>][] = [
      [new MedianStrategy(), {}],
      [new TrimmedMeanStrategy(), { beta: '0.2' }],
      [new KrumStrategy(), { f: '1' }],
      [new MultiKrumStrategy(), { f: '1', m: '3' }],
    ];
    for (const [strategy, options] of cases) {
      const inMemory = await aggregate(strategy, updates, options);
      for (const budget of [0, 3 * specLength * 8]) {
        const spilled = await aggregate(strategy, updates, options, budget);
        expect(spilled.metrics['spilled_updates'], strategy.name).toBe(budget === 0 ? 6 : 3);
        for (const t of spec) expect(spilled.model[t.name]!.data, `${strategy.name} ${t.name}`).toEqual(inMemory.model[t.name]!.data);
      }
    }
  });

  it('keeps spill files in the round scratch directory until dispose', async () => {
    const ctx = context({}, 0);
    const aggregator = new MedianStrategy().createAggregator(ctx);
    for (const u of updates) await aggregator.fold(u);
    expect((await readdir(ctx.scratchDir)).length).toBe(6);
    await aggregator.finish();
    await aggregator.dispose();
    await expect(readdir(ctx.scratchDir)).rejects.toThrow(/ENOENT/);
  });

  it('refuses updates with no examples or the wrong tensors, counting only the good ones', async () => {
    const aggregator = new MedianStrategy().createAggregator(context());
    await aggregator.fold(updates[0]!);
    const zero = await rejection(aggregator.fold(siteUpdate('zero', 0, updates[1]!.tensors)));
    expect(isTributaryError(zero) && zero.reason).toBe('ZERO_EXAMPLES');
    const wrong = await rejection(aggregator.fold(siteUpdate('wrong', 5, { ...updates[1]!.tensors, extra: tensor('F32', [1], new Float32Array(1)) })));
    expect(isTributaryError(wrong) && [wrong.reason, wrong.message]).toEqual(['STRATEGY_ERROR', expect.stringMatching(/site "wrong".*unexpected tensor "extra"/)]);
    expect(aggregator.count).toBe(1);
    expect(flat((await aggregator.finish()).model, spec)).toEqual(sent[0]);
    await expect(aggregator.finish()).rejects.toThrow(/already aggregated/);
    await aggregator.dispose?.();
  });

  it('fails the round when nothing was folded', async () => {
    const err = await rejection(aggregate(new MedianStrategy(), []));
    expect(isTributaryError(err) && err.reason).toBe('STRATEGY_ERROR');
  });
});

describe('robustness to poisoned updates', () => {
  // Eight honest sites: a common model plus noise (sigma 0.1). Two byzantine sites send the
  // model sign-flipped and magnified 20x, and claim many examples to weigh more in fedavg.
  const honestCount = 8;
  const byzantine = 2;
  const sigma = 0.1;
  const normal = gaussian(prng(90));
  const common = Float64Array.from({ length: specLength }, () => normal());
  const honest = Array.from({ length: honestCount }, (_, k) =>
    siteUpdate(`honest-${k}`, 100 + k, modelOf(common.map((c) => c + sigma * normal()))),
  );
  const poisoned = Array.from({ length: byzantine }, (_, k) =>
    siteUpdate(`byzantine-${k}`, 10_000, modelOf(common.map((c) => -20 * c + sigma * normal()))),
  );
  // Byzantine sites interleaved with honest ones: arrival order must not matter.
  const round = [honest[0]!, poisoned[0]!, ...honest.slice(1, 5), poisoned[1]!, ...honest.slice(5)];
  const honestMean = referenceMean(honest.map((u) => flat(u.tensors, spec)));
  /** How far one honest update typically lies from the honest mean: sigma x sqrt(d), about 5.1. */
  const spread = sigma * Math.sqrt(specLength);

  async function distanceToHonestMean(strategy: Strategy, options: Record<string, string> = {}): Promise<number> {
    const { model } = await aggregate(strategy, round, options, 4 * specLength * 8);
    return distance(flat(model, spec), honestMean);
  }

  it('fedavg is dragged far from the honest mean (more than 10 honest spreads)', async () => {
    expect(await distanceToHonestMean(new FedAvgStrategy())).toBeGreaterThan(10 * spread);
  });

  it('median stays within one honest spread of the honest mean', async () => {
    expect(await distanceToHonestMean(new MedianStrategy())).toBeLessThan(spread);
  });

  it('trimmed mean trimming at least f at each end stays within one honest spread', async () => {
    expect(await distanceToHonestMean(new TrimmedMeanStrategy(), { beta: '0.2' })).toBeLessThan(spread);
  });

  it('krum picks an honest update: within two honest spreads', async () => {
    expect(await distanceToHonestMean(new KrumStrategy(), { f: String(byzantine) })).toBeLessThan(2 * spread);
  });

  it('multi-krum keeps exactly the honest sites: their mean, up to rounding to the dtypes', async () => {
    const { model, metrics } = await aggregate(new MultiKrumStrategy(), round, { f: String(byzantine) });
    expect(metrics['krum_selected_count']).toBe(honestCount);
    expect(metrics['krum_selected_examples']).toBe(honest.reduce((s, u) => s + u.numExamples, 0));
    // F16 rounding (relative 2^-11 on 100 values) is what remains.
    expect(distance(flat(model, spec), honestMean)).toBeLessThan(0.01);
  });

  it('server-side clipping bounds what the poisoned updates can do to fedavg', async () => {
    // Clip each update's distance to the previous global model (zero here) at the honest norm.
    const global = new Float64Array(specLength);
    const bound = 1.5 * Math.sqrt(specLength);
    const clipped = round.map((u) => {
      const values = Float64Array.from(flat(u.tensors, spec));
      const { clipped: wasClipped } = clipToNorm(values, global, bound);
      expect(wasClipped).toBe(u.site.startsWith('byzantine'));
      return { ...u, tensors: modelOf(values) };
    });
    // A weighted mean of vectors within `bound` of zero lies within it too.
    const guaranteed = bound + distance(honestMean, global);
    const { model } = await aggregate(new FedAvgStrategy(), clipped);
    const plain = await aggregate(new FedAvgStrategy(), round);
    expect(distance(flat(model, spec), honestMean)).toBeLessThanOrEqual(guaranteed);
    expect(distance(flat(plain.model, spec), honestMean)).toBeGreaterThan(5 * guaranteed);
  });
});
