import { TributaryError, quoted } from '@tributary/proto';

/** A numeric strategy option: its default and the interval it must lie in. */
export interface NumberOptionSpec {
  readonly default: number;
  /** Lower bound, inclusive unless `minExclusive`. */
  readonly min: number;
  readonly minExclusive?: boolean;
  /** Exclusive upper bound; none when absent. */
  readonly maxExclusive?: number;
}

// Decimal notation only: Number() would also take "0x10", "Infinity" and "".
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/**
 * Parses a strategy's numeric options, filling in defaults. An unknown option, or a value that
 * is not a decimal number in its interval, is INVALID_ARGUMENT naming the option, e.g.
 * `strategy option "beta_1" must be a number in [0, 1), got "1.5"`.
 */
export function parseNumberOptions<K extends string>(
  strategy: string,
  specs: Readonly<Record<K, NumberOptionSpec>>,
  options: Readonly<Record<string, string>>,
): Record<K, number> {
  const names = Object.keys(specs) as K[];
  for (const key of Object.keys(options)) {
    if (!Object.prototype.hasOwnProperty.call(specs, key)) {
      throw TributaryError.invalidArgument(`unknown option ${quoted(key)} for strategy ${strategy} (it takes ${names.join(', ')})`);
    }
  }
  const values = {} as Record<K, number>;
  for (const name of names) {
    const spec = specs[name];
    const text = Object.prototype.hasOwnProperty.call(options, name) ? options[name] : undefined;
    if (text === undefined) {
      values[name] = spec.default;
      continue;
    }
    const value = DECIMAL.test(text.trim()) ? Number(text.trim()) : Number.NaN;
    if (!(Number.isFinite(value) && inInterval(value, spec))) {
      throw TributaryError.invalidArgument(`strategy option "${name}" must be a number ${describeInterval(spec)}, got ${quoted(text)}`);
    }
    values[name] = value;
  }
  return values;
}

/**
 * Options of a strategy that takes none: `{}`, or INVALID_ARGUMENT naming the first option,
 * e.g. `unknown option "mu" for strategy fedavg (it takes none)`.
 */
export function rejectAllOptions(strategy: string, options: Readonly<Record<string, string>>): Record<string, string> {
  const [unknown] = Object.keys(options);
  if (unknown !== undefined) throw TributaryError.invalidArgument(`unknown option ${quoted(unknown)} for strategy ${strategy} (it takes none)`);
  return {};
}

/** Options as strings again, in their shortest round-trip form (`1e-9`, `0.9`). */
export function formatNumberOptions(values: Readonly<Record<string, number>>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
}

function inInterval(value: number, spec: NumberOptionSpec): boolean {
  if (spec.minExclusive ? value <= spec.min : value < spec.min) return false;
  return spec.maxExclusive === undefined || value < spec.maxExclusive;
}

function describeInterval(spec: NumberOptionSpec): string {
  if (spec.maxExclusive === undefined) return `${spec.minExclusive ? '>' : '>='} ${spec.min}`;
  return `in ${spec.minExclusive ? '(' : '['}${spec.min}, ${spec.maxExclusive})`;
}
