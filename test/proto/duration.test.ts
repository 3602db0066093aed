import { describe, expect, it } from 'vitest';
import { parseDurationText } from '@tributary/proto';

describe('parseDurationText', () => {
  it.each([
    ['250ms', 250],
    ['1.5s', 1_500],
    ['2d', 172_800_000],
    ['1h30m', 5_400_000],
    [' 1m30s ', 90_000],
  ])('reads %j as %i ms', (text, ms) => {
    expect(parseDurationText(text)).toBe(ms);
  });

  it.each(['', '300', '5x', 'm', '-1s', '1 h', '5m3', 'abc'])('answers undefined for %j', (text) => {
    expect(parseDurationText(text)).toBeUndefined();
  });

  it('answers undefined for a unit outside the ones allowed', () => {
    expect(parseDurationText('2d', ['ms', 's', 'm', 'h'])).toBeUndefined();
    expect(parseDurationText('1h30m', ['ms', 's', 'm', 'h'])).toBe(5_400_000);
  });
});
