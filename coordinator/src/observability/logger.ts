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
