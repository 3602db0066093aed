import { STREAM_PAYLOADS, STREAM_UPDATES, TributaryError, subjects } from '@tributary/proto';
import type { JetStreamManager } from 'nats';
import type { Logger } from 'pino';
import type { StateStore, UpdateRecord } from '../state/index.js';

/** Payload subjects looked at in one sweep; the rest wait for the next. */
const MAX_SUBJECTS_PER_SWEEP = 10_000;
/** Purges (and age reads) running at once: each is a JetStream API call of 30-80 ms. */
const CONCURRENCY = 4;

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
  /** Decided updates whose chunks must stay (accepted by an aggregation worker, round not over). */
  keeps?: (record: UpdateRecord) => Promise<boolean>;
}

/**
 * Purges abandoned uploads from the payload stream, by subject: chunks of an update already
 * decided (a purge after its verdict failed, or the manifest was a replay), and chunks whose
 * manifest never came (a site that crashed mid-upload and sent a new update after its restart, a
 * round that closed meanwhile) once they are older than `abandonAfterMs` and the manifest
 * consumer has nothing waiting or in progress, so an upload whose manifest waits to be verified
 * is never touched. It runs beside the ingest, a few calls at a time; a failure is logged and
 * retried by the next sweep, and never blocks ingest.
 */
export class PayloadSweeper {
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly opts: PayloadSweeperOptions) {
    this.log = opts.logger.child({ component: 'payload-sweeper' });
  }

  start(): void {
    this.timer = setInterval(() => this.request(), this.opts.intervalMs ?? this.opts.abandonAfterMs);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
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
      .catch((err: unknown) => {
        this.log.warn({ err: TributaryError.from(err).message }, 'payload sweep failed; the next one retries');
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
          this.log.warn({ subject, err: TributaryError.from(err).message }, 'could not purge an abandoned upload; the next sweep retries');
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    if (purged > 0) this.log.info({ purged }, 'abandoned uploads purged from the payload stream');
    return purged;
  }

  private async abandoned(subject: string, ingestIdle: boolean, state: Pick<StateStore, 'getUpdate'>): Promise<boolean> {
    const parsed = subjects.parsePayload(subject);
    if (parsed === undefined) return false;
    const decided = await state.getUpdate(parsed.updateId);
    // A decided update's chunks are of no more use (chunks another site sent under its id are
    // judged as any other upload).
    if (decided !== undefined && decided.site === parsed.site && decided.federation === parsed.federation) return !(await this.opts.keeps?.(decided));
    if (!ingestIdle) return false;
    const last = await this.opts.jsm.streams.getMessage(STREAM_PAYLOADS, { last_by_subj: subject });
    return Date.now() - last.time.getTime() > this.opts.abandonAfterMs;
  }
}
