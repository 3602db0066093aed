import { STREAM_UPDATES, TributaryError } from '@tributary/proto';
import { NatsError, type NatsConnection } from 'nats';
import type { Logger } from 'pino';

/** What /healthz tells of JetStream under `jetstream`. */
export interface JetStreamHealth {
  /** `ok` while the update stream answers; `unavailable` since `sinceMs` while it does not. */
  readonly status: 'ok' | 'unavailable';
  readonly sinceMs: number;
  /** Why the last look failed, while unavailable. */
  readonly lastError?: string;
}

export interface JetStreamWatchOptions {
  nc: NatsConnection;
  logger: Logger;
  /** Time between looks. @default 5000 */
  intervalMs?: number;
  /** Bound of one look. @default 3000 */
  timeoutMs?: number;
}

/**
 * Looks at the update stream every few seconds and says, in the log and in /healthz, when
 * JetStream stops answering and when it answers again. On a cluster that lost a majority of its
 * nodes JetStream has no quorum: every stream answers 503 or nothing, sites' publishes fail, and
 * the coordinator waits. That is an outage an operator must hear about in plain words, once,
 * rather than infer from retries.
 */
export class JetStreamWatch {
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private looking: Promise<void> | undefined;
  private state: JetStreamHealth = { status: 'ok', sinceMs: Date.now() };

  constructor(private readonly opts: JetStreamWatchOptions) {
    this.log = opts.logger.child({ component: 'jetstream-watch' });
  }

  start(): void {
    this.timer = setInterval(() => {
      this.looking ??= this.look().finally(() => (this.looking = undefined));
    }, this.opts.intervalMs ?? 5_000);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.looking;
  }

  health(): JetStreamHealth {
    return this.state;
  }

  private async look(): Promise<void> {
    if (this.opts.nc.isClosed()) return;
    try {
      const jsm = await this.opts.nc.jetstreamManager({ timeout: this.opts.timeoutMs ?? 3_000, checkAPI: false });
      await jsm.streams.info(STREAM_UPDATES);
      if (this.state.status === 'unavailable') {
        this.log.info({ stream: STREAM_UPDATES, unavailableMs: Date.now() - this.state.sinceMs }, 'JetStream answers again: updates and metrics flow');
        this.state = { status: 'ok', sinceMs: Date.now() };
      }
    } catch (err) {
      const lastError = unavailability(err);
      if (this.state.status === 'ok') {
        this.log.error({ stream: STREAM_UPDATES, err: lastError }, `JetStream unavailable: ${lastError}; sites' updates wait until it is back`);
        this.state = { status: 'unavailable', sinceMs: Date.now(), lastError };
      } else {
        this.state = { ...this.state, lastError };
      }
    }
  }
}

/** Why the stream did not answer, in an operator's words. */
function unavailability(err: unknown): string {
  if (err instanceof NatsError && (err.code === '503' || err.code === 'TIMEOUT')) {
    return `stream ${STREAM_UPDATES} has no leader (${err.code === '503' ? '503' : 'no answer'}): on a cluster, a majority of its nodes must be up for JetStream to work (no quorum)`;
  }
  return TributaryError.from(err).message;
}
