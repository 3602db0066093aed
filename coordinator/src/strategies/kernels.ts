// Numeric kernels of the strategies: pure functions over typed arrays, no orchestration.
// Plain indexed loops: V8 keeps them monomorphic per array type. The fold (weighted
// accumulate) runs as a WebAssembly SIMD kernel when the engine has it (fold-kernel.ts).

import { runAtOnce, type Steps } from '@tributary/proto';
import { fold, isShrinkable, type ResizableArrayBuffer } from './fold-kernel.js';

/** Elements handled between two pause points of the kernels' steps (well under a millisecond). */
const STEP_ELEMENTS = 1 << 16;

/** `acc[i] += weight * values[i]` for every i; the lengths must match. */
export function weightedAccumulate(
  acc: Float64Array,
  values: Float64Array | Float32Array,
  weight: number,
): void {
  fold(acc, values, weight);
}

/** `values[i] *= factor` in place. */
export function scale(values: Float64Array, factor: number): void {
  for (let i = 0; i < values.length; i++) values[i]! *= factor;
}

/** `scale` as steps that may pause between runs of STEP_ELEMENTS values; the same products. */
export function* scaleSteps(values: Float64Array, factor: number): Steps<void> {
  for (let start = 0; start < values.length; start += STEP_ELEMENTS) {
    if (start > 0) yield;
    scale(values.subarray(start, Math.min(start + STEP_ELEMENTS, values.length)), factor);
  }
}

/**
 * `values` rounded to float32 in their own memory: a Float32Array over the first half of
 * `values`' bytes, equal to `Float32Array.from(values)` with no second array. In order, value i
 * is read (bytes 8i to 8i + 8) before float i is written (bytes 4i to 4i + 4), which never reaches
 * a value not yet read. When `values` own a shrinkable buffer (shrinkableFloat64Array), its second
 * half is given back. `values` is spent.
 */
export function narrowToFloat32InPlace(values: Float64Array): Float32Array {
  return runAtOnce(narrowToFloat32InPlaceSteps(values));
}

/**
 * `narrowToFloat32InPlace` as steps that may pause between runs of STEP_ELEMENTS values: still
 * in index order, so no float is written over a value not yet read. Nothing may touch `values`
 * until the steps are done.
 */
export function* narrowToFloat32InPlaceSteps(values: Float64Array): Steps<Float32Array> {
  const out = new Float32Array(values.buffer, values.byteOffset, values.length);
  for (let start = 0; start < values.length; start += STEP_ELEMENTS) {
    if (start > 0) yield;
    const end = Math.min(start + STEP_ELEMENTS, values.length);
    for (let i = start; i < end; i++) out[i] = values[i]!;
  }
  if (isShrinkable(values)) (values.buffer as ResizableArrayBuffer).resize(out.byteLength);
  return out;
}

/** Euclidean norm of `a - b`; the lengths must match. */
export function l2NormOfDifference(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) {
    throw new RangeError(`length mismatch: ${a.length} and ${b.length}`);
  }
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return Math.sqrt(sum);
}

/** A site's metrics and the weight they carry (its number of examples). */
export interface WeightedMetrics {
  weight: number;
  metrics: Readonly<Record<string, number>>;
}

/**
 * Per metric key, the weighted mean over the samples that report it. Non-finite values count
 * as not reported: one site's NaN loss would otherwise blank the round's figure.
 */
export function weightedMeanOfMetrics(samples: Iterable<WeightedMetrics>): Record<string, number> {
  const sums = new Map<string, { weighted: number; weight: number }>();
  for (const { weight, metrics } of samples) {
    if (!(weight > 0)) continue;
    for (const [key, value] of Object.entries(metrics)) {
      if (!Number.isFinite(value)) continue;
      const sum = sums.get(key) ?? { weighted: 0, weight: 0 };
      sum.weighted += weight * value;
      sum.weight += weight;
      sums.set(key, sum);
    }
  }
  const mean: Record<string, number> = {};
  for (const [key, { weighted, weight }] of sums) mean[key] = weighted / weight;
  return mean;
}
