// Numeric kernels of the robust strategies: pure functions over typed arrays, no orchestration.
// Coordinate-wise kernels take one slice of every update (`rows`, equal lengths), so a strategy
// can run them over a model in pieces; the distance kernel accumulates across such slices.

import { l2NormOfDifference, scale, weightedAccumulate } from './kernels.js';

/** One update's values (or a slice of them). */
export type FloatVector = Float32Array | Float64Array;

/**
 * Per coordinate, the median of the rows' values: the middle one for an odd count, the mean of
 * the two middle ones for an even count (as numpy's `median`). Writes into `out` and returns it.
 */
export function coordinateMedian(rows: readonly FloatVector[], out?: Float64Array): Float64Array {
  const { n, length, result } = checkRows(rows, out);
  const column = new Float64Array(n);
  const lo = (n - 1) >> 1;
  const hi = n >> 1;
  for (let j = 0; j < length; j++) {
    gatherColumn(rows, j, column);
    selectInPlace(column, lo, 0, n - 1);
    if (lo === hi) {
      result[j] = column[lo]!;
      continue;
    }
    // Everything after position lo is at least column[lo]: the next order statistic is their minimum.
    let next = column[hi]!;
    for (let r = hi + 1; r < n; r++) if (column[r]! < next) next = column[r]!;
    result[j] = (column[lo]! + next) / 2;
  }
  return result;
}

/** How many values coordinate-wise trimming removes at each end: floor(beta x n). */
export function trimCount(n: number, beta: number): number {
  if (!(beta >= 0 && beta < 0.5)) throw new RangeError(`beta must be in [0, 0.5), got ${beta}`);
  return Math.floor(beta * n);
}

/**
 * Per coordinate, the mean of the rows' values after dropping the `trimCount(n, beta)` smallest
 * and as many largest (Yin et al. 2018). beta = 0 is the plain mean; at least one value always
 * remains since beta < 0.5. Writes into `out` and returns it.
 */
export function coordinateTrimmedMean(rows: readonly FloatVector[], beta: number, out?: Float64Array): Float64Array {
  const { n, length, result } = checkRows(rows, out);
  const k = trimCount(n, beta);
  const kept = n - 2 * k;
  const column = new Float64Array(n);
  for (let j = 0; j < length; j++) {
    let sum = 0;
    if (k === 0) {
      for (let r = 0; r < n; r++) sum += rows[r]![j]!;
    } else {
      // Positions k .. n-k-1 then hold the kept order statistics, in some order.
      gatherColumn(rows, j, column);
      selectInPlace(column, k, 0, n - 1);
      selectInPlace(column, n - k - 1, k, n - 1);
      for (let r = k; r < n - k; r++) sum += column[r]!;
    }
    result[j] = sum / kept;
  }
  return result;
}

/**
 * Adds the squared Euclidean distances between every pair of rows to `distances`, an n x n
 * row-major symmetric matrix (zero diagonal). Called once per slice, it accumulates the
 * distances between whole updates. Returns `distances`, created zeroed when omitted.
 */
export function accumulatePairwiseSquaredDistances(rows: readonly FloatVector[], distances?: Float64Array): Float64Array {
  const n = rows.length;
  const d = distances ?? new Float64Array(n * n);
  if (d.length !== n * n) throw new RangeError(`distance matrix holds ${d.length} values, expected ${n} x ${n}`);
  const length = checkRows(rows, undefined, false).length;
  for (let a = 0; a < n; a++) {
    const x = rows[a]!;
    for (let b = a + 1; b < n; b++) {
      const y = rows[b]!;
      let sum = 0;
      for (let j = 0; j < length; j++) {
        const diff = x[j]! - y[j]!;
        sum += diff * diff;
      }
      d[a * n + b]! += sum;
      d[b * n + a]! += sum;
    }
  }
  return d;
}

/**
 * Krum scores (Blanchard et al. 2017): for each of the n updates, the sum of its n - f - 2
 * smallest squared distances to the others. `distances` is the n x n matrix of
 * `accumulatePairwiseSquaredDistances`. Needs n > 2f + 2, the bound under which Krum is proven
 * to tolerate f byzantine updates.
 */
export function krumScores(distances: Float64Array, n: number, f: number): Float64Array {
  if (!Number.isInteger(f) || f < 0) throw new RangeError(`f must be a non-negative integer, got ${f}`);
  if (!(n > 2 * f + 2)) throw new RangeError(`Krum needs n > 2f + 2, got n = ${n} and f = ${f}`);
  if (distances.length !== n * n) throw new RangeError(`distance matrix holds ${distances.length} values, expected ${n} x ${n}`);
  const closest = n - f - 2;
  const scores = new Float64Array(n);
  const others = new Float64Array(n - 1);
  for (let i = 0; i < n; i++) {
    let o = 0;
    for (let j = 0; j < n; j++) if (j !== i) others[o++] = distances[i * n + j]!;
    others.sort();
    let sum = 0;
    for (let k = 0; k < closest; k++) sum += others[k]!;
    scores[i] = sum;
  }
  return scores;
}

/** Indices of the `m` lowest scores, lowest first; ties go to the lower index. */
export function lowestScores(scores: Float64Array, m: number): number[] {
  if (!Number.isInteger(m) || m < 1 || m > scores.length) {
    throw new RangeError(`cannot select ${m} of ${scores.length} scores`);
  }
  return Array.from(scores.keys())
    .sort((a, b) => scores[a]! - scores[b]! || a - b)
    .slice(0, m);
}

/** The plain mean of the rows, into `out`; Multi-Krum averages the updates it selected with it. */
export function meanOfRows(rows: readonly FloatVector[], out?: Float64Array): Float64Array {
  const { n, result } = checkRows(rows, out);
  result.fill(0);
  for (let r = 0; r < n; r++) weightedAccumulate(result, rows[r]!, 1);
  scale(result, 1 / n);
  return result;
}

/**
 * Server-side norm clipping: when ||update - global|| exceeds `bound`, rescales the difference
 * to length `bound`, in place (update := global + (update - global) x bound / norm). Returns
 * whether it clipped and the norm before clipping.
 */
export function clipToNorm(update: Float64Array, global: Float64Array, bound: number): { clipped: boolean; norm: number } {
  if (update.length !== global.length) throw new RangeError(`length mismatch: update ${update.length}, global ${global.length}`);
  if (!(Number.isFinite(bound) && bound > 0)) throw new RangeError(`the norm bound must be a positive number, got ${bound}`);
  const norm = l2NormOfDifference(update, global);
  if (norm <= bound) return { clipped: false, norm };
  const factor = bound / norm;
  for (let i = 0; i < update.length; i++) update[i] = global[i]! + (update[i]! - global[i]!) * factor;
  return { clipped: true, norm };
}

// --- helpers --------------------------------------------------------------------------------

function checkRows(
  rows: readonly FloatVector[],
  out: Float64Array | undefined,
  needsOne = true,
): { n: number; length: number; result: Float64Array } {
  const n = rows.length;
  if (needsOne && n === 0) throw new RangeError('no rows to aggregate');
  const length = rows[0]?.length ?? 0;
  for (const row of rows) {
    if (row.length !== length) throw new RangeError(`row lengths differ: ${length} and ${row.length}`);
  }
  if (out !== undefined && out.length !== length) throw new RangeError(`output holds ${out.length} values, rows ${length}`);
  return { n, length, result: out ?? new Float64Array(length) };
}

function gatherColumn(rows: readonly FloatVector[], j: number, column: Float64Array): void {
  for (let r = 0; r < column.length; r++) column[r] = rows[r]![j]!;
}

/**
 * Quickselect (Hoare partition, median-of-three pivot): reorders a[left..right] so that a[k]
 * holds the value a sort would put there, with no larger value before it and no smaller after.
 */
function selectInPlace(a: Float64Array, k: number, left: number, right: number): void {
  while (right - left > 8) {
    const mid = (left + right) >>> 1;
    if (a[mid]! < a[left]!) swap(a, mid, left);
    if (a[right]! < a[left]!) swap(a, right, left);
    if (a[right]! < a[mid]!) swap(a, right, mid);
    const pivot = a[mid]!;
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) swap(a, i++, j--);
    }
    // Now a[left..j] <= pivot <= a[i..right], and anything between equals the pivot.
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return;
  }
  for (let r = left + 1; r <= right; r++) {
    const v = a[r]!;
    let p = r - 1;
    while (p >= left && a[p]! > v) {
      a[p + 1] = a[p]!;
      p--;
    }
    a[p + 1] = v;
  }
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}
