import { Backoff, STREAM_PAYLOADS, STREAM_UPDATES, TributaryError, subjects } from '@tributary/proto';
import { NatsError, type JetStreamManager } from 'nats';
import type { Logger } from 'pino';
import type { StateStore, UpdateRecord } from '../state/index.js';

/** Payload subjects looked at in one sweep; the rest wait for the next. */
const MAX_SUBJECTS_PER_SWEEP = 10_000;
/** Purges (and age reads) running at once: each is a JetStream API call of 30-80 ms. */
const CONCURRENCY = 4;
/** JetStream's API error code for "no message found". */
const NO_MESSAGE_FOUND = 10037;
/** First pause before a failed sweep is tried again; it doubles up to the sweep interval. */
const RETRY_INITIAL_DELAY_MS = 500;

export interface PayloadSweeperOptions {
  jsm: JetStreamManager;
  state: Pick<StateStore, 'getUpdate'>;
  logger: Logger;
  /** The durable consumer of manifests: orphans are purged only while it has nothing waiting or in progress. */
  updateConsumer: string;
  /** A payload subject with no verdict whose last chunk is older than this is an abandoned upload. */
  abandonAfterMs: number;
  /** Time between sweeps (besides the ones asked for). @default abandonAfterMs */
  intervalMs?: number;
  /** Counts each sweep by how it ended: `completed`, or `failed` (retried with backoff). */
  onSweep?: (outcome: 'completed' | 'failed') => void;
  /** Payload subjects the ingest is purging already (their verdict is out): left to it. */
  purgePending?: (subject: string) => boolean;
  /** Decided updates whose chunks must stay (accepted by an aggregation worker, round not over). */
  keeps?: (record: UpdateRecord) => Promise<boolean>;
}

/** A sweep that could not look at or purge some subject (NATS down, a stream leader moving). */
class SweepIncomplete extends Error {}

/**
 * Purges abandoned uploads from the payload stream, by subject: chunks of an update already
 * decided (a purge after its verdict failed, or the manifest was a replay), and chunks whose
 * manifest never came (a site that crashed mid-upload and sent a new update after its restart, a
 * round that closed meanwhile) once they are older than `abandonAfterMs` and the manifest
 * consumer has nothing waiting or in progress, so an upload whose manifest waits to be verified
 * is never touched. It runs beside the ingest, a few calls at a time, and never blocks ingest. A
 * sweep that fails, whole or for some subject, is logged and tried again after a backoff
 * (from half a second up to the sweep interval), so a NATS restart or a stream leader moving
 * delays a purge by seconds, not by an interval.
 */
export class PayloadSweeper {
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly retryBackoff: Backoff;
  private running: Promise<number> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly opts: PayloadSweeperOptions) {
    this.log = opts.logger.child({ component: 'payload-sweeper' });
    const intervalMs = opts.intervalMs ?? opts.abandonAfterMs;
    this.retryBackoff = new Backoff({ policy: { initialDelayMs: RETRY_INITIAL_DELAY_MS, maxDelayMs: Math.max(RETRY_INITIAL_DELAY_MS, intervalMs), multiplier: 2 } });
  }

  start(): void {
    this.timer = setInterval(() => this.request(), this.opts.intervalMs ?? this.opts.abandonAfterMs);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    await this.running?.catch(() => undefined);
  }

  /** Asks for a sweep (e.g. after a round closed); sweeps never overlap, and requests during one make one more. */
  request(): void {
    if (this.stopped) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = this.sweep()
      .then((purged) => {
        this.retryBackoff.reset();
        this.opts.onSweep?.('completed');
        return purged;
      })
      .catch((err: unknown) => {
        this.opts.onSweep?.('failed');
        if (this.stopped) return 0;
        // Half a second plus the jittered backoff: never a tight loop against a NATS that is down.
        const delayMs = RETRY_INITIAL_DELAY_MS + this.retryBackoff.nextDelay();
        this.log.warn({ err: TributaryError.from(err).message, retryInMs: delayMs }, 'payload sweep failed; retrying');
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.request(), delayMs);
        this.retryTimer.unref?.();
        return 0;
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.request();
        }
      });
  }

  /** One sweep now; resolves with the subjects purged. */
  async sweepNow(): Promise<number> {
    while (this.running !== undefined) await this.running;
    this.running = this.sweep().finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweep(): Promise<number> {
    const { jsm, state } = this.opts;
    const info = await jsm.streams.info(STREAM_PAYLOADS, { subjects_filter: subjects.payloadWildcard });
    const listed = Object.keys(info.state.subjects ?? {}).slice(0, MAX_SUBJECTS_PER_SWEEP);
    if (listed.length === 0) return 0;
    const consumer = await jsm.consumers.info(STREAM_UPDATES, this.opts.updateConsumer).catch(() => undefined);
    const ingestIdle = consumer !== undefined && consumer.num_pending === 0 && consumer.num_ack_pending === 0;
    let purged = 0;
    let failed = 0;
    const queue = [...listed];
    const worker = async (): Promise<void> => {
      for (let subject = queue.shift(); subject !== undefined && !this.stopped; subject = queue.shift()) {
        try {
          if (await this.abandoned(subject, ingestIdle, state)) {
            await jsm.streams.purge(STREAM_PAYLOADS, { filter: subject });
            purged += 1;
            this.log.debug({ subject }, 'abandoned upload purged');
          }
        } catch (err) {
          failed += 1;
          this.log.warn({ subject, err: TributaryError.from(err).message }, 'could not purge an abandoned upload');
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    if (purged > 0) this.log.info({ purged }, 'abandoned uploads purged from the payload stream');
    if (failed > 0) throw new SweepIncomplete(`${failed} of ${listed.length} payload subject(s) could not be looked at or purged (${purged} purged)`);
    return purged;
  }

  private async abandoned(subject: string, ingestIdle: boolean, state: Pick<StateStore, 'getUpdate'>): Promise<boolean> {
    const parsed = subjects.parsePayload(subject);
    if (parsed === undefined || this.opts.purgePending?.(subject) === true) return false;
    const decided = await state.getUpdate(parsed.updateId);
    // A decided update's chunks are of no more use (chunks another site sent under its id are
    // judged as any other upload).
    if (decided !== undefined && decided.site === parsed.site && decided.federation === parsed.federation) return !(await this.opts.keeps?.(decided));
    if (!ingestIdle) return false;
    try {
      const last = await this.opts.jsm.streams.getMessage(STREAM_PAYLOADS, { last_by_subj: subject });
      return Date.now() - last.time.getTime() > this.opts.abandonAfterMs;
    } catch (err) {
      // Purged since it was listed (its verdict came meanwhile): nothing left to sweep.
      if (err instanceof NatsError && err.api_error?.err_code === NO_MESSAGE_FOUND) return false;
      throw err;
    }
  }
}
