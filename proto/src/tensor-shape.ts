/**
 * How many values a tensor of `shape` holds: the product of its dimensions, 1 for a scalar
 * (`[]`), 0 when any dimension is 0. For shapes already checked (a model spec, a decoded header).
 */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const d of shape) count *= d;
  return count;
}

/**
 * `elementCount` of a shape read from untrusted input: undefined unless `shape` is an array of
 * non-negative safe integers whose product is a safe integer too.
 */
export function checkedElementCount(shape: unknown): number | undefined {
  if (!Array.isArray(shape)) return undefined;
  let count = 1;
  for (const d of shape as unknown[]) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return undefined;
    count *= d;
    if (!Number.isSafeInteger(count)) return undefined;
  }
  return count;
}
