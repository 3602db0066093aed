// Numeric kernels of the robust strategies: pure functions over typed arrays, no orchestration.
// Coordinate-wise kernels take one slice of every update (`rows`, equal lengths), so a strategy
// can run them over a model in pieces; the distance kernel accumulates across such slices.

import { scale, weightedAccumulate } from './kernels.js';

/** One update's values (or a slice of them). */
export type FloatVector = Float32Array | Float64Array;

/** Columns up to this many values are sorted by insertion, larger ones by the native sort. */
const INSERTION_SORT_MAX = 32;

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
    sortColumn(rows, j, column);
    result[j] = lo === hi ? column[lo]! : (column[lo]! + column[hi]!) / 2;
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
      sortColumn(rows, j, column);
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
  let sum = 0;
  for (let i = 0; i < update.length; i++) {
    const diff = update[i]! - global[i]!;
    sum += diff * diff;
  }
  const norm = Math.sqrt(sum);
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

/** Copies coordinate `j` of every row into `column` (length n) and sorts it ascending. */
function sortColumn(rows: readonly FloatVector[], j: number, column: Float64Array): void {
  const n = column.length;
  if (n > INSERTION_SORT_MAX) {
    for (let r = 0; r < n; r++) column[r] = rows[r]![j]!;
    column.sort();
    return;
  }
  // Insertion sort while gathering: a few dozen values sort faster in JS than through a call.
  for (let r = 0; r < n; r++) {
    const v = rows[r]![j]!;
    let k = r - 1;
    while (k >= 0 && column[k]! > v) {
      column[k + 1] = column[k]!;
      k--;
    }
    column[k + 1] = v;
  }
}
