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
  private failures = 0;
  private firstFailureMs = 0;

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
      // Only the meta leader answers account info: a 503 here is a cluster without quorum.
      await jsm.getAccountInfo().catch((err: unknown) => {
        throw new Unavailable(isNoAnswer(err) ? `JetStream has no meta leader (${describeNoAnswer(err)}): fewer than a majority of the cluster's nodes are up (no quorum), or they are still electing one` : TributaryError.from(err).message);
      });
      // A node that lost its peers still answers stream info from its own copy, without a leader.
      const info = await jsm.streams.info(STREAM_UPDATES).catch((err: unknown) => {
        throw new Unavailable(isNoAnswer(err) ? `stream ${STREAM_UPDATES} does not answer (${describeNoAnswer(err)}): a majority of its replicas must be up, and they elect a leader within seconds of a node loss` : TributaryError.from(err).message);
      });
      if (info.cluster !== undefined && (info.cluster.leader ?? '') === '') {
        throw new Unavailable(`stream ${STREAM_UPDATES} has no leader: a majority of its replicas must be up, and they elect one within seconds of a node loss`);
      }
      this.failures = 0;
      if (this.state.status === 'unavailable') {
        this.log.info({ stream: STREAM_UPDATES, unavailableMs: Date.now() - this.state.sinceMs }, 'JetStream answers again: updates and metrics flow');
        this.state = { status: 'ok', sinceMs: Date.now() };
      }
    } catch (err) {
      const lastError = err instanceof Unavailable ? err.message : TributaryError.from(err).message;
      this.failures += 1;
      if (this.state.status === 'unavailable') {
        this.state = { ...this.state, lastError };
      } else if (this.failures >= LOOKS_BEFORE_UNAVAILABLE) {
        // Counted from the first failed look: the outage began then.
        this.state = { status: 'unavailable', sinceMs: this.firstFailureMs, lastError };
        this.log.error({ stream: STREAM_UPDATES, err: lastError }, `JetStream unavailable: ${lastError}; sites' updates wait until it is back`);
      }
      if (this.failures === 1) this.firstFailureMs = Date.now();
    }
  }
}

/** Failed looks in a row before JetStream is said to be unavailable: a leader election alone takes one. */
const LOOKS_BEFORE_UNAVAILABLE = 2;

/** JetStream does not work right now, and why. */
class Unavailable extends Error {}

function isNoAnswer(err: unknown): boolean {
  return err instanceof NatsError && (err.code === '503' || err.code === 'TIMEOUT');
}

function describeNoAnswer(err: unknown): string {
  return err instanceof NatsError && err.code === '503' ? '503' : 'no answer';
}
