import { describe, expect, it } from 'vitest';
import { parseByteSize, parseDuration } from '../../coordinator/src/config/values.js';

describe('parseDuration', () => {
  it('reads a bare number as seconds', () => {
    expect(parseDuration('300')).toBe(300_000);
    expect(parseDuration(300)).toBe(300_000);
    expect(parseDuration('1.5')).toBe(1500);
  });

  it('reads numbers with a unit', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('2d')).toBe(172_800_000);
  });

  it('adds up several parts', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1m30s')).toBe(90_000);
  });

  it.each(['', '5x', 'm', '-1', '1 h', '5m3', 'abc'])('refuses %j, naming what it is for', (text) => {
    expect(() => parseDuration(text, '--deadline')).toThrow(`invalid --deadline ${JSON.stringify(text)}: use seconds or a number with a unit`);
  });
});

describe('parseByteSize', () => {
  it('reads bytes and binary or decimal units', () => {
    expect(parseByteSize('1024')).toBe(1024);
    expect(parseByteSize('1GiB')).toBe(2 ** 30);
    expect(parseByteSize('512MiB')).toBe(512 * 2 ** 20);
    expect(parseByteSize('10MB')).toBe(10_000_000);
  });

  it('refuses an unknown unit', () => {
    expect(() => parseByteSize('3 parsecs', 'max_update_bytes')).toThrow('invalid max_update_bytes "3 parsecs"');
  });
});
