import { assertName } from '@tributary/proto';
import type { NameKind } from '@tributary/proto';
import { invalidValue, parseDuration, parseInteger } from '../config/values.js';
import type { RawInput } from './command.js';

/** Commander collector of a repeatable option; entries may also be comma-separated. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter((s) => s !== '')];
}

/** A positional argument (commander has checked presence of required ones). */
export function arg(raw: RawInput, index: number): string | undefined {
  const v = raw.args[index];
  return typeof v === 'string' ? v : undefined;
}

/** A positional name argument, checked against the name rules. */
export function nameArg(raw: RawInput, index: number, kind: NameKind): string {
  return assertName(kind, arg(raw, index) ?? '');
}

export function optString(raw: RawInput, key: string): string | undefined {
  const v = raw.opts[key];
  return typeof v === 'string' ? v : undefined;
}

/** An optional name option, checked against the name rules. */
export function optName(raw: RawInput, key: string, kind: NameKind): string | undefined {
  const v = optString(raw, key);
  return v === undefined ? undefined : assertName(kind, v);
}

export function optList(raw: RawInput, key: string): string[] {
  const v = raw.opts[key];
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}

export function optFlag(raw: RawInput, key: string): boolean {
  return raw.opts[key] === true;
}

/** A whole-number option within [min, max]. */
export function optInteger(raw: RawInput, key: string, flag: string, min: number, max: number): number | undefined {
  const v = optString(raw, key);
  return v === undefined ? undefined : parseInteger(v, flag, min, max);
}

/** A decimal option within (min, max] (exclusive min) . */
export function optFraction(raw: RawInput, key: string, flag: string): number | undefined {
  const v = optString(raw, key);
  if (v === undefined) return undefined;
  const n = /^\d*\.?\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
  if (!(n > 0 && n <= 1)) throw invalidValue(flag, v, 'expected a fraction in (0, 1], e.g. 0.5');
  return n;
}

/** A duration option (`300`, `30s`, `5m`, `1h`) in milliseconds. */
export function optDurationMs(raw: RawInput, key: string, flag: string): number | undefined {
  const v = optString(raw, key);
  return v === undefined ? undefined : parseDuration(v, flag);
}

/** A federation name option list, each checked. */
export function federationNames(raw: RawInput, key = 'federation'): string[] {
  return optList(raw, key).map((f) => assertName('federation', f));
}

export const UINT32_MAX = 0xffff_ffff;
