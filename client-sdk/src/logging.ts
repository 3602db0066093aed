import { isTributaryError } from '@tributary/proto';
import type { ModelDownloadOptions } from '@tributary/proto';

/** Where the SDK writes what it does; pino loggers fit. */
export interface SiteLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export const SILENT_LOGGER: SiteLogger = Object.freeze({
  info: () => undefined,
  warn: () => undefined,
  debug: () => undefined,
});

/** A short, log-friendly text of any error: `CODE/REASON: message` for TributaryErrors. */
export function describeError(err: unknown): string {
  if (isTributaryError(err)) return `${err.code}/${err.reason}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Logs each resume of a model download as a warning. */
export function logDownloadRetry(logger: SiteLogger, federation: string): NonNullable<ModelDownloadOptions['onRetry']> {
  return ({ error, attempt, delayMs, offset }) =>
    logger.warn({ federation, offset, attempt, delayMs, err: describeError(error) }, 'model download interrupted; resuming');
}
