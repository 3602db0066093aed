import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** The coordinator's structured logger (JSON lines on stderr). */
export function createLogger(level: string = 'info'): Logger {
  return pino({ level, base: { service: 'tributary' } }, pino.destination(2));
}

/** A logger that writes nothing, for embedding and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/**
 * A logger for a person at a terminal (`tributary dev`): one short line per entry,
 * `12:03:04 WARN  round failed federation=iris round=2`, instead of JSON lines. At debug and
 * trace the time shows milliseconds (`12:03:04.517`): what a round's steps took is read there.
 */
export function createConsoleLogger(level: string = 'warn', out: Pick<NodeJS.WritableStream, 'write'> = process.stderr): Logger {
  const precise = level === 'debug' || level === 'trace';
  return pino({ level, base: undefined }, { write: (line: string) => void out.write(consoleLine(line, { milliseconds: precise })) });
}

/** One pino JSON line as a console line; anything else as it is. */
export function consoleLine(json: string, opts: { milliseconds?: boolean } = {}): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const { level, time, msg, ...rest } = entry;
  const name = typeof level === 'number' ? (LEVEL_NAMES[level] ?? String(level)) : String(level);
  const clock = typeof time === 'number' ? new Date(time).toISOString().slice(11, opts.milliseconds === true ? 23 : 19) : '--:--:--';
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${fieldText(v)}`);
  return `${[clock, name.padEnd(5), typeof msg === 'string' ? msg : '', ...fields].filter((p) => p !== '').join(' ')}\n`;
}

function fieldText(v: unknown): string {
  if (typeof v === 'string') return /\s/.test(v) ? JSON.stringify(v) : v;
  // Errors as their message, not their stack.
  if (typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string') return JSON.stringify((v as { message: string }).message);
  return JSON.stringify(v) ?? String(v);
}
