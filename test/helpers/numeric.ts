import { expect } from 'vitest';
import type { Tensor } from '@tributary/proto';

// Written out here rather than borrowed from the codec, so the reference stays independent.
export function decodeF16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** A float or I32 tensor's values as plain numbers, F16 decoded by `decodeF16`. */
export function valuesOf(t: Tensor): number[] {
  if (t.dtype === 'F16') return Array.from(t.data as Uint16Array, decodeF16);
  return Array.from(t.data as Float32Array | Float64Array | Int32Array);
}

/** |actual - expected| <= tolerance·max(1, |expected|), element by element. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const bound = tolerance * Math.max(1, Math.abs(expected[i]!));
    expect(Math.abs(actual[i]! - expected[i]!), `[${i}] = ${actual[i]}, expected ${expected[i]}`).toBeLessThanOrEqual(bound);
  }
}

/** |actual - expected| <= rel·|expected| + abs, element by element (numpy's `allclose`). */
export function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = 1e-12, abs = 1e-15): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    expect(Math.abs(a - e), `[${i}] = ${a}, expected ${e}`).toBeLessThanOrEqual(rel * Math.abs(e) + abs);
  }
}
