/** Units a duration may be written in. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const DURATION_UNITS_MS: Readonly<Record<DurationUnit, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
const EVERY_UNIT: readonly DurationUnit[] = ['ms', 's', 'm', 'h', 'd'];
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/**
 * Milliseconds of a duration written with units, as configuration and options take it: one part
 * or several, each a number and a unit with nothing between (`'250ms'`, `'30s'`, `'5m'`, `'1h'`,
 * `'2d'`, `'1h30m'`), spaces around the whole ignored. Undefined for anything else: a bare
 * number (whether it means seconds or milliseconds is the caller's to say), an empty text, a
 * unit outside `units`. Callers word the refusal and check the limits.
 */
export function parseDurationText(text: string, units: readonly DurationUnit[] = EVERY_UNIT): number | undefined {
  const s = text.trim();
  if (s === '') return undefined;
  DURATION_PART.lastIndex = 0;
  let ms = 0;
  let consumed = 0;
  let match: RegExpExecArray | null;
  while ((match = DURATION_PART.exec(s)) !== null) {
    const [whole, value, unit] = match as unknown as [string, string, DurationUnit];
    if (!units.includes(unit)) return undefined;
    ms += Number(value) * DURATION_UNITS_MS[unit];
    consumed += whole.length;
  }
  if (consumed !== s.length || !Number.isFinite(ms)) return undefined;
  return Math.round(ms);
}
