import { Backoff, Reason, TributaryError, abortError, openVerdict, sleep } from '@tributary/proto';
import type { GetUpdateStatusRequest, UpdateStatus__Output } from '@tributary/proto';
import type { Subscription } from 'nats';
import { describeError } from './logging.js';
import type { SiteSession } from './session.js';
import { raceAbort } from './signals.js';

/** Least pause between two GetUpdateStatus calls. */
const MIN_POLL_INTERVAL_MS = 250;

/** A verdict: the update was judged. */
function isDecided(s: UpdateStatus__Output): boolean {
  return s.state === 'UPDATE_STATE_ACCEPTED' || s.state === 'UPDATE_STATE_REFUSED';
}

/**
 * Waits for the coordinator's verdict on one update: listens on trib.<fed>.verdict.<site> (opened
 * before the manifest is published, so the verdict cannot be missed), and after `verdictTimeoutMs`
 * also asks GetUpdateStatus, with backoff. Only a verdict signed by the coordinator's key and
 * about this update (id, federation, site) counts; anything else on the subject is ignored, so a
 * forged verdict can neither decide the update nor stop the wait.
 */
export class VerdictWatch {
  readonly #session: SiteSession;
  readonly #federation: string;
  readonly #updateId: string;
  readonly #sub: Subscription;
  readonly #decided: Promise<UpdateStatus__Output>;

  private constructor(session: SiteSession, federation: string, updateId: string, subject: string) {
    this.#session = session;
    this.#federation = federation;
    this.#updateId = updateId;
    let resolve!: (s: UpdateStatus__Output) => void;
    this.#decided = new Promise((r) => (resolve = r));
    const { coordinatorKey, logger, site } = session;
    this.#sub = session.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err !== null) return;
        if (coordinatorKey === undefined) {
          logger.debug({ subject }, 'verdict ignored: no coordinator key to verify it with');
          return;
        }
        const opened = openVerdict(msg.data, coordinatorKey);
        if (!opened.ok) {
          logger.debug({ subject, reason: opened.refusal.reason, message: opened.refusal.message }, 'verdict ignored');
          return;
        }
        const status = opened.status;
        if (status.updateId !== updateId) return; // another update of this site
        if (status.federation !== federation || status.site !== site) {
          logger.debug({ subject, updateId, federation: status.federation, site: status.site }, 'verdict ignored: about another federation or site');
          return;
        }
        if (isDecided(status)) resolve(status);
      },
    });
  }

  /** Subscribes and makes sure the server has the subscription before returning. */
  static async open(session: SiteSession, federation: string, updateId: string, subject: string): Promise<VerdictWatch> {
    const watch = new VerdictWatch(session, federation, updateId, subject);
    try {
      await session.nc.flush();
    } catch (err) {
      // Without the round trip the verdict may be missed; polling still finds it.
      session.logger.debug({ subject, err: describeError(err) }, 'NATS flush failed');
    }
    return watch;
  }

  /**
   * The decided status. Polling goes on for `verdictTimeoutMs` after the first wait, or until
   * `verdictTimeoutMs` past the round's deadline when that is later: by then the coordinator
   * has judged every manifest queued for the round.
   */
  async wait(opts: { signal: AbortSignal; deadlineAtMs: number }): Promise<UpdateStatus__Output> {
    const { signal } = opts;
    const { verdictTimeoutMs, retry } = this.#session.options;
    // Ends the timers below when the wait ends, so none outlives it.
    const done = new AbortController();
    const pause = (ms: number): Promise<undefined> =>
      sleep(ms, done.signal).then(() => undefined);
    try {
      const first = await raceAbort(Promise.race([this.#decided, pause(verdictTimeoutMs)]), signal);
      if (first !== undefined) return first;

      this.#session.logger.info(
        { federation: this.#federation, updateId: this.#updateId, waitedMs: verdictTimeoutMs },
        'no verdict on NATS yet; asking the coordinator',
      );
      const giveUpAtMs = Math.max(Date.now(), opts.deadlineAtMs) + verdictTimeoutMs;
      const backoff = new Backoff({ policy: retry });
      for (;;) {
        const polled = await raceAbort(Promise.race([this.#decided, this.#poll(signal)]), signal);
        if (polled !== undefined) return polled;
        const left = giveUpAtMs - Date.now();
        if (left <= 0) break;
        const ms = Math.min(backoff.nextDelay() + MIN_POLL_INTERVAL_MS, left);
        const waited = await raceAbort(Promise.race([this.#decided, pause(ms)]), signal);
        if (waited !== undefined) return waited;
      }
    } finally {
      done.abort();
    }
    throw TributaryError.of(
      Reason.DEADLINE_EXCEEDED,
      `no verdict on update ${this.#updateId}; it was published and may still be judged (GetUpdateStatus)`,
      { retryable: false, details: { updateId: this.#updateId } },
    );
  }

  close(): void {
    this.#sub.unsubscribe();
  }

  /** One GetUpdateStatus call: the status when decided, undefined while pending or unreachable. */
  async #poll(signal: AbortSignal): Promise<UpdateStatus__Output | undefined> {
    try {
      const status = await this.#session.rpc.unary<GetUpdateStatusRequest, UpdateStatus__Output>(
        'GetUpdateStatus',
        { federation: this.#federation, updateId: this.#updateId },
        { signal, timeoutMs: 10_000 },
      );
      return isDecided(status) ? status : undefined;
    } catch (err) {
      if (signal.aborted) throw abortError(signal);
      const e = TributaryError.from(err);
      if (e.code !== 'NOT_FOUND' && !e.retryable) throw e;
      this.#session.logger.debug({ updateId: this.#updateId, err: describeError(e) }, 'update status not available yet');
      return undefined;
    }
  }
}
