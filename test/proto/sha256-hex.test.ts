import { describe, expect, it } from 'vitest';
import { isSha256Hex, sha256Hex } from '@tributary/proto';

describe('isSha256Hex', () => {
  it('accepts a digest as sha256Hex writes it', () => {
    expect(isSha256Hex(sha256Hex(new Uint8Array([1, 2, 3])))).toBe(true);
    expect(isSha256Hex('0'.repeat(64))).toBe(true);
  });

  it.each([
    ['uppercase hex', 'A'.repeat(64)],
    ['63 characters', 'a'.repeat(63)],
    ['65 characters', 'a'.repeat(65)],
    ['a non-hex letter', 'g'.repeat(64)],
    ['surrounding spaces', ` ${'a'.repeat(64)} `],
    ['an empty text', ''],
    ['a number', 42],
    ['undefined', undefined],
  ])('refuses %s', (_what, value) => {
    expect(isSha256Hex(value)).toBe(false);
  });
});
