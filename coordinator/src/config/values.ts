import { Reason, TributaryError, parseDurationText } from '@tributary/proto';

/** Names a value in errors: a flag (`--rounds`), or a setting and where it came from. */
export type ValueLabel = string | { readonly name: string; readonly from: string };

/**
 * The one error of configuration and flag values: `invalid <name> "<text>" (from <source>): <why>`,
 * e.g. `invalid grpc_listen "nope" (from TRIBUTARY_GRPC_LISTEN): expected host:port`.
 */
export function invalidValue(what: ValueLabel, text: unknown, why: string, hint?: string): TributaryError {
  const shown = JSON.stringify(text) ?? String(text);
  const subject = typeof what === 'string' ? `${what} ${shown}` : `${what.name} ${shown} (from ${what.from})`;
  return TributaryError.of(Reason.INVALID_ARGUMENT, `invalid ${subject}: ${why}`, hint === undefined ? {} : { details: { hint } });
}

/**
 * Parses a duration into milliseconds: a bare number is seconds (`'300'`, `300`), otherwise a
 * number with a unit (`'250ms'`, `'30s'`, `'5m'`, `'1h'`, `'2d'`), or several (`'1h30m'`).
 */
export function parseDuration(text: string | number, what: ValueLabel = 'duration'): number {
  const why = 'use seconds or a number with a unit (ms, s, m, h, d), e.g. 300, 30s, 5m, 1h';
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw invalidValue(what, text, why);
    return Math.round(text * 1000);
  }
  const s = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const ms = parseDurationText(s);
  if (ms === undefined) throw invalidValue(what, text, why);
  return ms;
}

/** A duration in whole seconds (rounded up), for settings the wire carries in seconds. */
export function parseDurationSeconds(text: string | number, what: ValueLabel = 'duration'): number {
  return Math.ceil(parseDuration(text, what) / 1000);
}

const BYTE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** Parses a size in bytes: `1073741824`, `'512MiB'`, `'1GiB'`, `'10MB'` (decimal units too). */
export function parseByteSize(text: string | number, what: ValueLabel = 'size'): number {
  const why = 'use bytes or a number with a unit (KiB, MiB, GiB, KB, MB, GB), e.g. 1GiB';
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text) || text < 0) throw invalidValue(what, text, why);
    return text;
  }
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = BYTE_UNITS[(m?.[2] ?? '').toLowerCase() || 'b'];
  if (m === null || unit === undefined) throw invalidValue(what, text, why);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw invalidValue(what, text, why);
  return bytes;
}

/** Parses an integer within [min, max]. */
export function parseInteger(text: string | number, what: ValueLabel, min: number, max: number): number {
  const n = typeof text === 'number' ? text : /^[+-]?\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw invalidValue(what, text, `expected a whole number from ${min} to ${max}`);
  }
  return n;
}

/** Parses a `host:port` address (`[::1]:7400` for IPv6); port 0 lets the system pick when allowed. */
export function parseHostPort(text: string, what: ValueLabel, opts: { allowPortZero?: boolean } = {}): string {
  const s = text.trim();
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(s);
  const port = Number(m?.[2]);
  const minPort = opts.allowPortZero === true ? 0 : 1;
  if (m === null || port < minPort || port > 65535) {
    throw invalidValue(what, text, 'expected host:port, e.g. 127.0.0.1:7400');
  }
  return s;
}

const NATS_SCHEMES = new Set(['nats', 'tls', 'ws', 'wss']);

/** Parses NATS server URLs: a list, or one string with comma-separated entries. */
export function parseNatsServers(raw: string | readonly string[], what: ValueLabel): string[] {
  const entries = (typeof raw === 'string' ? [raw] : raw)
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (entries.length === 0) throw invalidValue(what, raw, 'expected at least one NATS URL, e.g. nats://127.0.0.1:4222');
  for (const url of entries) {
    const scheme = /^([a-z]+):\/\//.exec(url)?.[1];
    const hostPort = scheme === undefined ? url : url.slice(scheme.length + 3);
    const valid =
      (scheme === undefined || NATS_SCHEMES.has(scheme)) && /^(?:[^\s@/]+@)?(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+)(?::\d{1,5})?\/?$/.test(hostPort);
    if (!valid) throw invalidValue(what, url, 'expected a NATS URL such as nats://127.0.0.1:4222');
  }
  return entries;
}

/** pino's levels. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function parseLogLevel(text: string, what: ValueLabel = 'log level'): LogLevel {
  const level = LOG_LEVELS.find((l) => l === text.trim().toLowerCase());
  if (level === undefined) throw invalidValue(what, text, `expected one of ${LOG_LEVELS.join(', ')}`);
  return level;
}
