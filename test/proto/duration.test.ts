import { describe, expect, it } from 'vitest';
import { parseDurationText } from '@tributary/proto';

describe('parseDurationText', () => {
  it('reads a number with a unit as milliseconds', () => {
    expect(parseDurationText('250ms')).toBe(250);
    expect(parseDurationText('30s')).toBe(30_000);
    expect(parseDurationText('1.5s')).toBe(1_500);
    expect(parseDurationText('5m')).toBe(300_000);
    expect(parseDurationText('1h')).toBe(3_600_000);
    expect(parseDurationText('2d')).toBe(172_800_000);
  });

  it('adds up several parts and ignores spaces around the whole', () => {
    expect(parseDurationText('1h30m')).toBe(5_400_000);
    expect(parseDurationText(' 1m30s ')).toBe(90_000);
  });

  it.each(['', '300', '5x', 'm', '-1s', '1 h', '5m3', 'abc'])('answers undefined for %j', (text) => {
    expect(parseDurationText(text)).toBeUndefined();
  });

  it('answers undefined for a unit outside the ones allowed', () => {
    expect(parseDurationText('2d', ['ms', 's', 'm', 'h'])).toBeUndefined();
    expect(parseDurationText('1h30m', ['ms', 's', 'm', 'h'])).toBe(5_400_000);
  });
});
