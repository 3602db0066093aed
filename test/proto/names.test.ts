import { describe, expect, it } from 'vitest';
import { NAME_PATTERN, assertName, isValidName } from '@tributary/proto';

describe('names', () => {
  it('accepts lowercase names of 1 to 63 characters', () => {
    for (const ok of ['a', '0', 'churn', 'site-a', 'site_1', 'a'.repeat(63), '9lives']) expect(isValidName(ok)).toBe(true);
  });

  it('refuses anything else', () => {
    for (const bad of ['', 'A', 'Bad Name', '-a', '_a', 'a.b', 'a*', 'a>', 'a'.repeat(64), 'é', 'a\n', ' a']) {
      expect(isValidName(bad)).toBe(false);
    }
    expect(isValidName(5)).toBe(false);
    expect(isValidName(undefined)).toBe(false);
  });

  it('assertName returns valid names and throws INVALID_ARGUMENT / INVALID_NAME otherwise', () => {
    expect(assertName('site', 'site-a')).toBe('site-a');
    expect(() => assertName('site', 'Bad Name')).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        reason: 'INVALID_NAME',
        message: 'invalid site name "Bad Name": must match ^[a-z0-9][a-z0-9_-]{0,62}$',
      }),
    );
    expect(() => assertName('federation', 'x.y')).toThrow(/invalid federation name "x.y"/);
    expect(NAME_PATTERN.source).toBe('^[a-z0-9][a-z0-9_-]{0,62}$');
  });
});
