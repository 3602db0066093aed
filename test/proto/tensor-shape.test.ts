import { describe, expect, it } from 'vitest';
import { checkedElementCount, elementCount } from '@tributary/proto';

describe('elementCount', () => {
  it('multiplies the dimensions of a shape', () => {
    expect(elementCount([784, 10])).toBe(7840);
    expect(elementCount([2, 3, 4])).toBe(24);
  });

  it('counts one value for a scalar and none when a dimension is zero', () => {
    expect(elementCount([])).toBe(1);
    expect(elementCount([5, 0, 3])).toBe(0);
  });
});

describe('checkedElementCount', () => {
  it('counts a shape of non-negative integers as elementCount does', () => {
    expect(checkedElementCount([784, 10])).toBe(7840);
    expect(checkedElementCount([])).toBe(1);
    expect(checkedElementCount([0])).toBe(0);
  });

  it.each([
    ['not an array', '3,4'],
    ['a negative dimension', [3, -1]],
    ['a fractional dimension', [2.5]],
    ['a dimension given as text', ['3']],
    ['a count past the safe integers', [2 ** 30, 2 ** 30, 2 ** 30]],
  ])('answers undefined for %s', (_what, shape) => {
    expect(checkedElementCount(shape)).toBeUndefined();
  });
});
