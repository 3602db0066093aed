import { describe, expect, it } from 'vitest';
import { allFinite, allFiniteAsync, fromFloat64, tensor, type DType } from '@tributary/proto';

// Longer than several of the runs the check pauses between, with an odd tail.
const N = 4 * 65536 + 3;

function withValueAt(dtype: DType, index: number, value: number): ReturnType<typeof fromFloat64> {
  const values = new Float64Array(N).fill(0.5);
  values[index] = value;
  return fromFloat64(dtype, [N], values);
}

describe('allFiniteAsync', () => {
  for (const dtype of ['F32', 'F64', 'F16', 'BF16'] as const) {
    it(`finds a NaN in the last value of a ${dtype} tensor`, async () => {
      expect(await allFiniteAsync(withValueAt(dtype, N - 1, NaN))).toBe(false);
    });

    it(`finds an infinity at the start of a later run of a ${dtype} tensor`, async () => {
      expect(await allFiniteAsync(withValueAt(dtype, 2 * 65536, -Infinity))).toBe(false);
    });

    it(`accepts a finite ${dtype} tensor as allFinite does`, async () => {
      const t = withValueAt(dtype, 7, -3);
      expect(await allFiniteAsync(t)).toBe(true);
      expect(allFinite(t)).toBe(true);
    });
  }

  it('accepts any integer tensor', async () => {
    expect(await allFiniteAsync(tensor('I32', [3], Int32Array.of(1, -2, 3)))).toBe(true);
  });
});
