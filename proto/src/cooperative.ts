// Work that may be long (parsing a header of 65,536 tensors, checking them against a spec) is
// written once, as a generator that yields at points where it may pause. Run at once it is an
// ordinary synchronous function; run cooperatively it gives the event loop back whenever a slice
// of work has taken `SLICE_MS`, so timers and I/O keep their turn whatever the input.

/** Steps of a computation returning `T`; each `yield` is a point where it may pause. */
export type Steps<T> = Generator<void, T, void>;

/** Longest stretch of work between two turns of the event loop. */
const SLICE_MS = 4;

/** Runs the steps to the end without pausing. */
export function runAtOnce<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}

/**
 * Runs the steps, letting the event loop turn (`setImmediate`: timers and I/O first) whenever
 * `SLICE_MS` of work has passed since the last turn.
 */
export async function runCooperatively<T>(steps: Steps<T>): Promise<T> {
  let until = performance.now() + SLICE_MS;
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
    if (performance.now() >= until) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      until = performance.now() + SLICE_MS;
    }
  }
}

/** Pause points every `every` items of a loop: `if (pauseAt(i)) yield;`. */
export function pauseAt(i: number, every = 256): boolean {
  return i % every === every - 1;
}

/**
 * The items sorted by `compare` (a new array; stable), as steps: a bottom-up merge sort that may
 * pause between merges, after one pass when the items are already in order.
 */
export function* sortSteps<T>(items: readonly T[], compare: (a: T, b: T) => number): Steps<T[]> {
  const n = items.length;
  let src = items.slice();
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) {
    if (pauseAt(i, 8192)) yield;
    sorted = compare(src[i - 1] as T, src[i] as T) <= 0;
  }
  if (sorted) return src;
  let dst = new Array<T>(n);
  let work = 0;
  for (let width = 1; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let a = lo;
      let b = mid;
      let k = lo;
      while (a < mid && b < hi) dst[k++] = compare(src[b] as T, src[a] as T) < 0 ? (src[b++] as T) : (src[a++] as T);
      while (a < mid) dst[k++] = src[a++] as T;
      while (b < hi) dst[k++] = src[b++] as T;
      work += hi - lo;
      if (work >= 4096) {
        work = 0;
        yield;
      }
    }
    [src, dst] = [dst, src];
  }
  return src;
}
