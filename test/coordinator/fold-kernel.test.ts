import { describe, expect, it } from 'vitest';
import { FOLD_BLOCK, FOLD_GROUP, FoldAccumulator, fold, foldJs, foldKernelName, hasSpareFoldMemory } from '../../coordinator/src/strategies/fold-kernel.js';

/** Deterministic pseudo-random values in [-scale, scale). */
function randomValues(n: number, seed: number, scale = 1): Float64Array {
  let s = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

function bothWays(acc: Float64Array, values: Float32Array | Float64Array, weight: number): { wasm: Float64Array; js: Float64Array } {
  const wasm = Float64Array.from(acc);
  const js = Float64Array.from(acc);
  fold(wasm, values, weight);
  foldJs(js, values, weight);
  return { wasm, js };
}

describe('fold kernel', () => {
  it('runs as WebAssembly SIMD on this engine', () => {
    expect(foldKernelName()).toBe('wasm-simd');
  });

  it('gives bit-for-bit the JS result on random float32 updates over several blocks', () => {
    const n = FOLD_BLOCK * 2 + 77;
    const { wasm, js } = bothWays(randomValues(n, 1, 100), Float32Array.from(randomValues(n, 2)), 37.25);
    expect(Buffer.from(wasm.buffer).equals(Buffer.from(js.buffer))).toBe(true);
  });

  it('gives bit-for-bit the JS result on random float64 updates', () => {
    const n = FOLD_BLOCK + 13;
    const { wasm, js } = bothWays(randomValues(n, 3, 100), randomValues(n, 4), 0.1);
    expect(Buffer.from(wasm.buffer).equals(Buffer.from(js.buffer))).toBe(true);
  });

  it('folds every length around the vector width, including the tail', () => {
    for (let n = 60; n <= 72; n++) {
      const values = Float32Array.from(randomValues(n, n));
      const { wasm, js } = bothWays(randomValues(n, n + 100), values, 3);
      expect(Array.from(wasm)).toEqual(Array.from(js));
    }
  });

  it('carries NaN and infinities through as the JS loop does', () => {
    const n = 256;
    const values = Float32Array.from(randomValues(n, 5));
    values[0] = NaN;
    values[5] = Infinity;
    values[130] = -Infinity;
    values[255] = NaN;
    const acc = randomValues(n, 6);
    acc[7] = Infinity;
    acc[8] = -Infinity;
    const { wasm, js } = bothWays(acc, values, 2);
    expect(Array.from(wasm)).toEqual(Array.from(js));
    expect(Number.isNaN(wasm[0])).toBe(true);
    expect(wasm[5]).toBe(Infinity);
    expect(wasm[130]).toBe(-Infinity);
  });

  it('does nothing on zero-length arrays', () => {
    const acc = new Float64Array(0);
    fold(acc, new Float32Array(0), 5);
    expect(acc.length).toBe(0);
  });

  it('refuses arrays of different lengths and leaves the accumulator untouched', () => {
    const acc = new Float64Array(100).fill(1);
    expect(() => fold(acc, new Float32Array(99), 1)).toThrow(/length mismatch/);
    expect(acc.every((v) => v === 1)).toBe(true);
  });

  it('accumulates in its own linear memory to the same sums as plain arrays and the JS loop', () => {
    const lengths = [FOLD_BLOCK + 5, 3, 0, 1000];
    const wasm = new FoldAccumulator(lengths);
    const plain = new FoldAccumulator(lengths, false);
    expect(wasm.kernel).toBe('wasm-simd');
    expect(plain.kernel).toBe('js');
    for (let site = 0; site < 3; site++) {
      lengths.forEach((n, t) => {
        const values = Float32Array.from(randomValues(n, site * 10 + t));
        wasm.add(t, values, 10 + site);
        plain.add(t, values, 10 + site);
      });
    }
    lengths.forEach((_, t) => expect(Array.from(wasm.sums[t]!)).toEqual(Array.from(plain.sums[t]!)));
  });

  it('refuses an update of the wrong length and leaves its sums untouched', () => {
    const acc = new FoldAccumulator([100]);
    acc.add(0, new Float32Array(100).fill(1), 2);
    expect(() => acc.add(0, new Float32Array(101), 1)).toThrow(/length mismatch/);
    expect(acc.sums[0]!.every((v) => v === 2)).toBe(true);
  });

  it('folds in slices to bit-for-bit the sums of folding at once, with either kernel', async () => {
    const lengths = [3 * FOLD_BLOCK + 7];
    for (const useWasm of [true, false]) {
      const whole = new FoldAccumulator(lengths, useWasm);
      const sliced = new FoldAccumulator(lengths, useWasm);
      for (let site = 0; site < 2; site++) {
        const values = Float32Array.from(randomValues(lengths[0]!, site + 1));
        whole.add(0, values, 3 + site);
        await sliced.addInSlices(0, values, 3 + site, FOLD_BLOCK);
      }
      expect(Array.from(sliced.sums[0]!)).toEqual(Array.from(whole.sums[0]!));
    }
  });

  it('lets the event loop run between the slices of a large fold', async () => {
    const acc = new FoldAccumulator([4 * FOLD_BLOCK]);
    const order: string[] = [];
    setImmediate(() => order.push('event loop'));
    await acc.addInSlices(0, new Float32Array(4 * FOLD_BLOCK).fill(1), 1, FOLD_BLOCK).then(() => order.push('fold done'));
    expect(order).toEqual(['event loop', 'fold done']);
  });
});

describe('FoldAccumulator.addAtInSlices', () => {
  // A slice read from a file, placed at an offset that is not a whole number of blocks.
  const length = 5 * FOLD_BLOCK + 13;
  const offset = FOLD_BLOCK + 3;
  const values32 = Float32Array.from(randomValues(3 * FOLD_BLOCK + 7, 91, 10));
  const values64 = randomValues(3 * FOLD_BLOCK + 7, 92, 10);

  for (const [kind, values] of [['float32', values32], ['float64', values64]] as const) {
    for (const useWasm of [true, false]) {
      it(`sums ${kind} values at an offset to the last bit as addAt does (${useWasm ? 'kernel' : 'JS loop'})`, async () => {
        const sliced = new FoldAccumulator([length], useWasm);
        const whole = new FoldAccumulator([length], useWasm);
        for (const site of [0, 1]) {
          await sliced.addAtInSlices(0, offset, values, 3 + site, FOLD_BLOCK);
          whole.addAt(0, offset, values, 3 + site);
        }
        expect(Buffer.from(sliced.sums[0]!.buffer, sliced.sums[0]!.byteOffset, sliced.sums[0]!.byteLength).equals(Buffer.from(whole.sums[0]!.buffer, whole.sums[0]!.byteOffset, whole.sums[0]!.byteLength))).toBe(true);
      });
    }
  }

  it('refuses a slice that reaches past the tensor, adding nothing', async () => {
    const acc = new FoldAccumulator([length]);
    await expect(acc.addAtInSlices(0, length - 10, values32, 1, FOLD_BLOCK)).rejects.toThrow(/outside the accumulator/);
    expect(acc.sums[0]!.every((v) => v === 0)).toBe(true);
  });

  it('lets the event loop run between its slices', async () => {
    const acc = new FoldAccumulator([length]);
    const order: string[] = [];
    setImmediate(() => order.push('event loop'));
    await acc.addAtInSlices(0, 0, new Float32Array(length).fill(1), 1, FOLD_BLOCK).then(() => order.push('fold done'));
    expect(order).toEqual(['event loop', 'fold done']);
  });
});

describe('FoldAccumulator.addMany', () => {
  function bytesOf(a: Float64Array): Buffer {
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  }

  /** The JS reference: each update folded in turn with `foldJs`. */
  function oneByOne(length: number, start: Float64Array, terms: ReadonlyArray<{ values: Float32Array | Float64Array; weight: number }>): Float64Array {
    const acc = Float64Array.from(start.subarray(0, length));
    for (const { values, weight } of terms) foldJs(acc, values, weight);
    return acc;
  }

  function termsOf(kinds: ReadonlyArray<'f32' | 'f64'>, length: number, seed: number): Array<{ values: Float32Array | Float64Array; weight: number }> {
    return kinds.map((kind, j) => {
      const raw = randomValues(length, seed + j, 10);
      return { values: kind === 'f32' ? Float32Array.from(raw) : raw, weight: 1 + j * 37.5 };
    });
  }

  const lengths = [0, 1, 7, 8, 9, 63, FOLD_BLOCK - 1, FOLD_BLOCK, FOLD_BLOCK + 1, 2 * FOLD_BLOCK + 13];
  const mixes: Array<[string, ReadonlyArray<'f32' | 'f64'>]> = [
    ['float32', ['f32', 'f32', 'f32', 'f32']],
    ['float64', ['f64', 'f64', 'f64']],
    ['mixed float32 and float64', ['f32', 'f64', 'f64', 'f32', 'f32']],
    ['nine float32', Array.from({ length: 2 * FOLD_GROUP + 1 }, () => 'f32' as const)],
  ];

  for (const [kind, mix] of mixes) {
    for (const useWasm of [true, false]) {
      it(`sums ${kind} updates to the last bit as folding them one by one (${useWasm ? 'kernel' : 'JS loop'})`, () => {
        for (const length of lengths) {
          const start = randomValues(length, 500 + length, 100);
          const terms = termsOf(mix, length, length);
          const acc = new FoldAccumulator([length], useWasm);
          acc.sums[0]!.set(start);
          acc.addMany(0, terms);
          expect(bytesOf(acc.sums[0]!).equals(bytesOf(oneByOne(length, start, terms))), `length ${length}`).toBe(true);
        }
      });
    }
  }

  it('sums every group size to the same bits as add of each update in turn', () => {
    const length = FOLD_BLOCK + 11;
    for (let k = 1; k <= FOLD_GROUP; k++) {
      const terms = termsOf(Array.from({ length: k }, () => 'f32' as const), length, 900 + k);
      const together = new FoldAccumulator([length]);
      const apart = new FoldAccumulator([length]);
      together.addMany(0, terms);
      for (const t of terms) apart.add(0, t.values, t.weight);
      expect(bytesOf(together.sums[0]!).equals(bytesOf(apart.sums[0]!)), `${k} updates`).toBe(true);
    }
  });

  it('carries NaN and infinities through as the JS loop does', () => {
    const n = 300;
    const terms = termsOf(['f32', 'f32', 'f32'], n, 77);
    (terms[0]!.values as Float32Array)[3] = NaN;
    (terms[1]!.values as Float32Array)[9] = Infinity;
    (terms[2]!.values as Float32Array)[9] = -Infinity;
    (terms[2]!.values as Float32Array)[299] = Infinity;
    const acc = new FoldAccumulator([n]);
    acc.addMany(0, terms);
    const reference = oneByOne(n, new Float64Array(n), terms);
    expect(Array.from(acc.sums[0]!)).toEqual(Array.from(reference));
    expect(Number.isNaN(acc.sums[0]![9])).toBe(true);
    expect(acc.sums[0]![299]).toBe(Infinity);
  });

  it('folds slices of several updates at an offset, in steps, to the bits of whole updates folded one by one', async () => {
    const length = 3 * FOLD_BLOCK + 5;
    const offset = FOLD_BLOCK - 3;
    const whole = termsOf(['f32', 'f32', 'f64', 'f32', 'f32'], length, 31);
    const sliced = new FoldAccumulator([length]);
    const apart = new FoldAccumulator([length]);
    // The first `offset` values as one slice each, the rest as another, with a yield between steps.
    sliced.addManyAt(0, 0, whole.map((t) => ({ values: t.values.subarray(0, offset), weight: t.weight })));
    await sliced.addManyAtInSlices(0, offset, whole.map((t) => ({ values: t.values.subarray(offset), weight: t.weight })), FOLD_BLOCK);
    for (const t of whole) apart.add(0, t.values, t.weight);
    expect(bytesOf(sliced.sums[0]!).equals(bytesOf(apart.sums[0]!))).toBe(true);
  });

  it('refuses updates of the wrong length before adding any of them', () => {
    const acc = new FoldAccumulator([100]);
    expect(() => acc.addMany(0, [{ values: new Float32Array(100).fill(1), weight: 1 }, { values: new Float32Array(99), weight: 1 }])).toThrow(/length mismatch/);
    expect(() => acc.addManyAt(0, 0, [{ values: new Float32Array(10), weight: 1 }, { values: new Float32Array(9), weight: 1 }])).toThrow(/same length/);
    expect(acc.sums[0]!.every((v) => v === 0)).toBe(true);
  });
});

describe('FoldAccumulator.release', () => {
  const foldInto = (acc: FoldAccumulator, lengths: number[], seed: number): void =>
    lengths.forEach((n, t) => [3, 11].forEach((w, k) => acc.add(t, Float32Array.from(randomValues(n, seed + 10 * t + k)), w)));

  it('hands its memory, zeroed, to the next accumulator that fits, which then sums as a fresh one does', () => {
    const first = new FoldAccumulator([FOLD_BLOCK * 2 + 3, 17]);
    foldInto(first, [FOLD_BLOCK * 2 + 3, 17], 90);
    const memory = first.sums[0]!.buffer;
    first.release();
    expect(hasSpareFoldMemory()).toBe(true);

    const lengths = [FOLD_BLOCK + 1, 9];
    const second = new FoldAccumulator(lengths);
    expect(hasSpareFoldMemory()).toBe(false);
    expect(second.sums[0]!.buffer).toBe(memory);
    expect(second.sums.every((sums) => sums.every((v) => v === 0))).toBe(true);
    const fresh = new FoldAccumulator(lengths);
    expect(fresh.sums[0]!.buffer).not.toBe(memory);
    foldInto(second, lengths, 7);
    foldInto(fresh, lengths, 7);
    lengths.forEach((_, t) => expect(Buffer.from(second.sums[t]!.buffer, second.sums[t]!.byteOffset, second.sums[t]!.byteLength).equals(Buffer.from(fresh.sums[t]!.buffer, fresh.sums[t]!.byteOffset, fresh.sums[t]!.byteLength))).toBe(true));
  });

  it('is not taken by an accumulator larger than its memory', () => {
    const small = new FoldAccumulator([100]);
    const memory = small.sums[0]!.buffer;
    small.release();
    const large = new FoldAccumulator([(memory.byteLength / 8) * 2]);
    expect(large.sums[0]!.buffer).not.toBe(memory);
    expect(hasSpareFoldMemory()).toBe(true);
    expect(new FoldAccumulator([100]).sums[0]!.buffer).toBe(memory);
  });

  it('refuses to fold once released, whichever way it is asked', async () => {
    const acc = new FoldAccumulator([FOLD_BLOCK]);
    acc.release();
    const values = new Float32Array(FOLD_BLOCK);
    expect(() => acc.add(0, values, 1)).toThrow(/released/);
    expect(() => acc.addAt(0, 0, values, 1)).toThrow(/released/);
    await expect(acc.addManyInSlices(0, [{ values, weight: 1 }], FOLD_BLOCK)).rejects.toThrow(/released/);
    // Taken back by the next accumulator, so later tests start without a spare.
    new FoldAccumulator([1]);
    expect(hasSpareFoldMemory()).toBe(false);
  });
});
