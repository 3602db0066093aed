import { readFile } from 'node:fs/promises';
import type { JsMsg, NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { writePrivateFile } from '../config/private-file.js';

/** JetStream's negative acknowledgement: redeliver now. */
const NAK = '-NAK';
/** Reply subjects kept at most; the consumer's max_ack_pending is far below it. */
const MAX_HELD = 10_000;
/** What a JetStream ack reply subject looks like; anything else in the file is ignored. */
const ACK_SUBJECT = /^\$JS\.ACK\.[!-~]{1,512}$/;

/**
 * The manifests this coordinator holds (delivered, not yet settled), kept in a file of the data
 * directory: after a crash, the next coordinator on the same directory hands them back to the
 * consumer at once (a NAK on each delivery's ack subject), so their slots of `max_ack_pending`
 * are free in milliseconds rather than after the ack wait. The file is rewritten (synced, then
 * renamed) as deliveries come and go; a delivery is processed only once a rewrite that lists it
 * is on disk, so a kill -9 at any point of its processing still hands it back. Settlements are
 * not waited for: a settled delivery still listed only gets a NAK it ignores.
 */
export class HeldDeliveries {
  private readonly held = new Set<string>();
  private writing: Promise<void> = Promise.resolve();
  /** The rewrite queued and not started yet: it will list whatever is held when it starts. */
  private queued: Promise<void> | undefined;
  /** Set once the deliveries were handed back: later settlements no longer matter. */
  private released = false;

  constructor(
    private readonly path: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Hands back the deliveries a previous coordinator on this data directory held when it
   * stopped; call once, before pulling. Returns how many were released.
   */
  async releasePrevious(nc: NatsConnection): Promise<number> {
    let subjects: string[];
    try {
      const parsed: unknown = JSON.parse(await readFile(this.path, 'utf8'));
      subjects = Array.isArray(parsed) ? parsed.filter((s): s is string => typeof s === 'string' && ACK_SUBJECT.test(s)).slice(0, MAX_HELD) : [];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.warn({ err, path: this.path }, 'cannot read the manifests held before the restart; they return after the ack wait');
      return 0;
    }
    // A delivery settled meanwhile (acked, or redelivered after its ack wait) ignores the NAK.
    for (const subject of subjects) nc.publish(subject, NAK);
    await nc.flush();
    await writePrivateFile(this.path, '[]');
    return subjects.length;
  }

  /**
   * Hands the deliveries held now back for redelivery (a stop that does not wait for them) and
   * forgets them. Returns how many.
   */
  async handBack(nc: NatsConnection): Promise<number> {
    this.released = true;
    const subjects = [...this.held];
    this.held.clear();
    for (const subject of subjects) nc.publish(subject, NAK);
    await nc.flush();
    await this.save(true);
    return subjects.length;
  }

  /**
   * Notes a delivery being processed; resolves once the file listing it is on disk (or could not
   * be written, which is logged: the delivery then returns after the ack wait, as before a crash).
   */
  async add(m: JsMsg): Promise<void> {
    const reply = replyOf(m);
    if (this.released || reply === undefined || this.held.size >= MAX_HELD) return;
    this.held.add(reply);
    await this.save();
  }

  /** Notes a delivery settled (acked, nak'ed or terminated). */
  remove(m: JsMsg): void {
    const reply = replyOf(m);
    if (!this.released && reply !== undefined && this.held.delete(reply)) void this.save();
  }

  /** Waits for the last rewrite. */
  async flushed(): Promise<void> {
    await this.writing;
  }

  /**
   * Rewrites the file with the current set, one write at a time, the latest set last; resolves
   * once a rewrite that started after this call is done. Calls while one waits share it.
   */
  private save(final = false): Promise<void> {
    if (this.released && !final) return this.writing;
    if (this.queued !== undefined) return this.queued;
    const write = this.writing.then(async () => {
      this.queued = undefined;
      await writePrivateFile(this.path, JSON.stringify([...this.held])).catch((err: unknown) =>
        this.logger.warn({ err, path: this.path }, 'cannot record the manifests in progress; after a crash they return after the ack wait'),
      );
    });
    this.queued = write;
    this.writing = write;
    return write;
  }
}

/** The ack subject of a JetStream message (nats.js keeps it on the message, outside the JsMsg interface). */
function replyOf(m: JsMsg): string | undefined {
  const reply = (m as JsMsg & { reply?: unknown }).reply;
  return typeof reply === 'string' && ACK_SUBJECT.test(reply) ? reply : undefined;
}
