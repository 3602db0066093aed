import { mkdir } from 'node:fs/promises';
import { Level } from 'level';
import { openSublevel, type LevelBatchOp, type LevelDb, type Sublevel } from '../state/level-layout.js';
import type { LogBatchInput, TrackingRunStatus } from './store.js';

/** Entries read from the database at a time by the drainer. */
const ENTRIES_PER_READ = 64;
/** Refused writes kept for inspection; the oldest go first. */
const MAX_REFUSED_KEPT = 1_000;

/** One tracking-store write waiting in the outbox, named by Tributary's run id (the tracking run is found or created when it is delivered). */
export type OutboxWrite =
  | { kind: 'params'; runId: string; batch: LogBatchInput }
  | { kind: 'round'; runId: string; round: number; batch: LogBatchInput }
  | { kind: 'end'; runId: string; status: TrackingRunStatus; endTime: number; batch: LogBatchInput }
  /** Tags saying a record was refused; a refused note is not noted again. */
  | { kind: 'note'; runId: string; batch: LogBatchInput }
  /** The federation was deleted: its experiment is marked deleted, after its runs' earlier writes. */
  | { kind: 'deleteExperiment'; federation: string };

export interface OutboxEntry {
  /** Position in the outbox: entries are delivered in this order. */
  seq: number;
  write: OutboxWrite;
  enqueuedAtMs: number;
}

/** How far a run's records have been put in the outbox. */
export interface OutboxCursor {
  /** Highest round whose record is in the outbox (or delivered); 0 for none. */
  round: number;
  /** The run's end (status) is in the outbox (or delivered). */
  ended: boolean;
}

/** A write the tracking store refused for its data: kept, not retried. */
export interface RefusedWrite {
  entry: OutboxEntry;
  reason: string;
  message: string;
  refusedAtMs: number;
}

/**
 * The tracking outbox: the writes the tracking store has yet to accept, in their own LevelDB
 * (`<data>/tracking-outbox`). A write and the cursor that says it was made go in one synced
 * batch, so after a crash each record is either in the outbox or still to be derived from the
 * state store, never both and never neither. Entries leave only when the store accepted them
 * (delivered) or refused them for their data (kept in `refused`).
 */
export class TrackingOutbox {
  private readonly db: LevelDb;
  private readonly meta: Sublevel<number>;
  private readonly entries: Sublevel<OutboxEntry>;
  private readonly cursors: Sublevel<OutboxCursor>;
  private readonly refusedWrites: Sublevel<RefusedWrite>;
  private nextSeq = 1;
  private count = 0;
  private refusedCount = 0;
  private oldestAtMs: number | undefined;

  private constructor(readonly path: string) {
    this.db = new Level<string, unknown>(path, { valueEncoding: 'json' });
    this.meta = openSublevel(this.db, 'meta', 'json');
    this.entries = openSublevel(this.db, 'entries', 'json');
    this.cursors = openSublevel(this.db, 'cursors', 'json');
    this.refusedWrites = openSublevel(this.db, 'refused', 'json');
  }

  /** Opens (or creates) the outbox in `path` and counts what it holds. */
  static async open(path: string): Promise<TrackingOutbox> {
    const outbox = new TrackingOutbox(path);
    await mkdir(path, { recursive: true, mode: 0o700 });
    await outbox.db.open();
    for (const sub of [outbox.meta, outbox.entries, outbox.cursors, outbox.refusedWrites]) await sub.open();
    outbox.nextSeq = (await outbox.meta.get('next-seq')) ?? 1;
    for await (const entry of outbox.entries.values()) {
      outbox.count += 1;
      outbox.oldestAtMs ??= entry.enqueuedAtMs;
      // Concurrent enqueues may store their next-seq out of order: never reuse a stored key.
      outbox.nextSeq = Math.max(outbox.nextSeq, entry.seq + 1);
    }
    for await (const _ of outbox.refusedWrites.keys()) outbox.refusedCount += 1;
    return outbox;
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /** Writes waiting for the store. */
  get depth(): number {
    return this.count;
  }

  /** Writes the store refused since the outbox was created (up to MAX_REFUSED_KEPT). */
  get refused(): number {
    return this.refusedCount;
  }

  /** Age of the oldest waiting write, in ms (0 when none waits). */
  oldestAgeMs(now = Date.now()): number {
    return this.oldestAtMs === undefined ? 0 : Math.max(0, now - this.oldestAtMs);
  }

  async cursor(runId: string): Promise<OutboxCursor | undefined> {
    return this.cursors.get(runId);
  }

  /** Appends writes and moves the run's cursor (when given: a note leaves it as it is), in one synced batch. */
  async enqueue(runId: string, writes: readonly OutboxWrite[], cursor: OutboxCursor | undefined, now = Date.now()): Promise<void> {
    const ops: LevelBatchOp[] = [];
    let seq = this.nextSeq;
    for (const write of writes) {
      const entry: OutboxEntry = { seq, write, enqueuedAtMs: now };
      ops.push({ type: 'put', sublevel: this.entries, key: seqKey(seq), value: entry });
      seq += 1;
    }
    if (cursor !== undefined) ops.push({ type: 'put', sublevel: this.cursors, key: runId, value: cursor });
    ops.push({ type: 'put', sublevel: this.meta, key: 'next-seq', value: seq });
    // Taken before the write: a second enqueue while this one is stored (the deliverer's note
    // while a round's sync enqueues) must not reuse these keys and overwrite its entries.
    this.nextSeq = seq;
    await this.db.batch(ops, { sync: true });
    this.count += writes.length;
    if (writes.length > 0) this.oldestAtMs ??= now;
  }

  /** The first entries waiting, oldest first. */
  async head(limit = ENTRIES_PER_READ): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = [];
    for await (const entry of this.entries.values({ limit })) out.push(entry);
    return out;
  }

  /** The store accepted the entry: it leaves the outbox. */
  async delivered(entry: OutboxEntry): Promise<void> {
    // Synced: after a crash a delivered entry must not come back (though a redelivery is harmless).
    await this.db.batch([{ type: 'del', sublevel: this.entries, key: seqKey(entry.seq) }], { sync: true });
    this.left();
  }

  /** The store refused the entry for its data: it moves to `refused`, with why. */
  async refuse(entry: OutboxEntry, reason: string, message: string, now = Date.now()): Promise<void> {
    const ops: LevelBatchOp[] = [
      { type: 'del', sublevel: this.entries, key: seqKey(entry.seq) },
      { type: 'put', sublevel: this.refusedWrites, key: seqKey(entry.seq), value: { entry, reason, message, refusedAtMs: now } satisfies RefusedWrite },
    ];
    if (this.refusedCount >= MAX_REFUSED_KEPT) {
      for await (const key of this.refusedWrites.keys({ limit: 1 })) ops.push({ type: 'del', sublevel: this.refusedWrites, key });
    } else {
      this.refusedCount += 1;
    }
    await this.db.batch(ops, { sync: true });
    this.left();
  }

  /** The writes the store refused, oldest first. */
  async refusedList(limit = MAX_REFUSED_KEPT): Promise<RefusedWrite[]> {
    const out: RefusedWrite[] = [];
    for await (const r of this.refusedWrites.values({ limit })) out.push(r);
    return out;
  }

  private left(): void {
    this.count = Math.max(0, this.count - 1);
    // The next oldest is found by the drainer's next read; until then the age is an upper bound.
    if (this.count === 0) this.oldestAtMs = undefined;
  }

  /** Notes the enqueue time of the entry now at the head (the drainer reads it anyway). */
  noteHead(entry: OutboxEntry | undefined): void {
    this.oldestAtMs = entry?.enqueuedAtMs;
  }
}

/** Fixed-width, so LevelDB's key order is the outbox's order. */
function seqKey(seq: number): string {
  return seq.toString().padStart(16, '0');
}
