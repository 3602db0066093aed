import { open, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import { Reason, TributaryError, type SigningKey } from '@tributary/proto';
import type { Logger } from 'pino';
import { ensurePrivateDirectory, PRIVATE_FILE_MODE } from '../config/private-file.js';
import { encodeEntry, encodeSigned, GENESIS_HASH, hashLine, parseLine, type AuditEvent, type EncodedRecord } from './records.js';
import { listSegments, readLines, segmentPath } from './segments.js';
import { verifyAuditLog, type AuditVerification } from './verify.js';

export interface AuditLogOptions {
  /** The audit directory (`<dataDir>/audit`), created 0700. */
  readonly dir: string;
  /** The coordinator's key: signs heads and seals. */
  readonly key: SigningKey;
  readonly logger: Logger;
  /** A segment is sealed and the next one started once it holds this many bytes. */
  readonly segmentBytes: number;
  /** Sealed segments whose seal is older than this are removed. */
  readonly retentionMs: number;
  /** At most this many segments are kept; the oldest sealed ones go first. */
  readonly maxSegments: number;
  /** A signed head follows every this many entries... */
  readonly headEveryEntries: number;
  /** ...and, when entries came since the last head, every this many milliseconds. */
  readonly headIntervalMs: number;
}

/** A stored entry as read back, with where it is. */
export interface StoredAuditEntry extends AuditEvent {
  readonly segment: number;
  readonly index: number;
  /** SHA-256 of its line. */
  readonly hash: string;
}

export interface AuditFilter {
  /** Entries at or after this time (ms since the epoch). */
  readonly sinceMs?: number;
  /** A key id or a principal's name. */
  readonly principal?: string;
  /** A federation named by the entry (an entry may name several, comma-separated). */
  readonly federation?: string;
}

interface Pending {
  readonly seg: number;
  readonly line: string;
  readonly done?: { resolve: () => void; reject: (err: unknown) => void };
}

/**
 * The coordinator's tamper-evident audit log: hash-chained JSON-lines records in segment files,
 * signed heads at intervals and at close, segments sealed at a size and removed after a retention.
 *
 * Appends never block the event loop: a record is built (hashed into the chain) at once, in the
 * order of the calls, and queued; one writer drains the queue in batches, one `write` and one
 * `fdatasync` per batch (group commit), and `append` resolves when its batch is on disk. Calls
 * arriving while a batch is written share the next one, so a burst of N calls costs far fewer
 * than N syncs. A failed write fails the log closed: every later append rejects, so no caller is
 * answered for an entry that may not be stored.
 */
export class AuditLog {
  private readonly queue: Pending[] = [];
  private writing: Promise<void> | undefined;
  private file: { seg: number; handle: FileHandle } | undefined;
  private failure: TributaryError | undefined;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  /** Where the next record goes, and the hash it chains to. */
  private seg: number;
  private index: number;
  private prev: string;
  private segmentBytes: number;
  private entriesSinceHead = 0;

  private constructor(
    private readonly opts: AuditLogOptions,
    tail: { seg: number; index: number; prev: string; bytes: number; sealed: boolean },
  ) {
    this.seg = tail.sealed ? tail.seg + 1 : tail.seg;
    this.index = tail.sealed ? 0 : tail.index;
    this.prev = tail.prev;
    this.segmentBytes = tail.sealed ? 0 : tail.bytes;
    this.timer = setInterval(() => {
      if (this.entriesSinceHead > 0 && !this.closed && this.failure === undefined) this.enqueueSigned('head');
    }, opts.headIntervalMs);
    this.timer.unref();
  }

  /**
   * Opens the log in `dir`, continuing the chain of its last segment. A last line cut short by a
   * crash (no newline) was never acknowledged to anyone: it is cut off, and logged.
   */
  static async open(opts: AuditLogOptions): Promise<AuditLog> {
    await ensurePrivateDirectory(opts.dir);
    const segments = await listSegments(opts.dir);
    const last = segments.at(-1);
    if (last === undefined) return new AuditLog(opts, { seg: 1, index: 0, prev: GENESIS_HASH, bytes: 0, sealed: false });
    const path = segmentPath(opts.dir, last);
    let index = 0;
    let bytes = 0;
    let prev: string | undefined;
    let sealed = false;
    for await (const line of readLines(path)) {
      if (line.torn) {
        await truncate(path, bytes);
        opts.logger.warn({ segment: last, index, bytes }, 'audit log: cut off a record left half-written by a crash');
        break;
      }
      bytes += Buffer.byteLength(line.text) + 1;
      prev = hashLine(line.text);
      const parsed = parseLine(line.text);
      sealed = parsed.ok && parsed.record.kind === 'seal';
      index += 1;
    }
    if (prev === undefined) {
      // An empty last segment: chain to the seal of the one before it, if any.
      const before = segments.at(-2);
      prev = before === undefined ? GENESIS_HASH : await lastHash(opts.dir, before);
    }
    return new AuditLog(opts, { seg: last, index, prev, bytes, sealed });
  }

  /**
   * Appends an entry; resolves once it is on disk. Rejects (AUDIT_UNAVAILABLE) when the log has
   * failed or is closed: the caller must then not report success.
   */
  append(event: AuditEvent): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(TributaryError.of(Reason.AUDIT_UNAVAILABLE, 'the audit log is closed'));
    return new Promise<void>((resolve, reject) => {
      this.enqueue(encodeEntry(this.position(), event), { resolve, reject });
      this.entriesSinceHead += 1;
      if (this.entriesSinceHead >= this.opts.headEveryEntries) this.enqueueSigned('head');
      if (this.segmentBytes >= this.opts.segmentBytes) this.enqueueSigned('seal');
    });
  }

  /** Resolves when everything appended so far is on disk. */
  async flush(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Signs the head, writes everything queued and closes the file; later appends reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    if (this.entriesSinceHead > 0 && this.failure === undefined) this.enqueueSigned('head');
    this.closed = true;
    await this.flush().catch(() => undefined);
    await this.file?.handle.close().catch(() => undefined);
    this.file = undefined;
  }

  /** Verifies the stored log (what is on disk after a flush) with the coordinator's key. */
  async verify(): Promise<AuditVerification> {
    await this.flush();
    return verifyAuditLog(this.opts.dir, this.opts.key.publicKey);
  }

  /**
   * Stored entries matching `filter`, oldest first, read as a stream; records that do not parse
   * are skipped here (`verify` names them).
   */
  async *entries(filter: AuditFilter = {}): AsyncIterable<StoredAuditEntry> {
    await this.flush();
    yield* readAuditEntries(this.opts.dir, filter);
  }

  private position(): { seg: number; i: number; prev: string } {
    return { seg: this.seg, i: this.index, prev: this.prev };
  }

  private enqueueSigned(kind: 'head' | 'seal'): void {
    this.enqueue(encodeSigned(this.position(), kind, Date.now(), this.opts.key));
    this.entriesSinceHead = 0;
    if (kind === 'seal') {
      this.seg += 1;
      this.index = 0;
      this.segmentBytes = 0;
    }
  }

  /** Takes a built record into the chain, in order, and makes sure the writer runs. */
  private enqueue(record: EncodedRecord, done?: Pending['done']): void {
    this.queue.push({ seg: this.seg, line: record.line, ...(done === undefined ? {} : { done }) });
    this.prev = record.hash;
    this.index += 1;
    this.segmentBytes += Buffer.byteLength(record.line) + 1;
    this.kick();
  }

  /** Starts the writer unless it runs; it restarts itself for records queued as it finished. */
  private kick(): void {
    if (this.writing !== undefined) return;
    this.writing = this.drain().finally(() => {
      this.writing = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  /** Writes queued records in batches, one segment at a time, until the queue is empty. */
  private async drain(): Promise<void> {
    // Let the calls of this tick join the batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      const seg = this.queue[0]!.seg;
      let n = 0;
      while (n < this.queue.length && this.queue[n]!.seg === seg) n += 1;
      const batch = this.queue.splice(0, n);
      try {
        if (this.failure !== undefined) throw this.failure;
        const handle = await this.handleFor(seg);
        await handle.write(batch.map((p) => `${p.line}\n`).join(''));
        await handle.datasync();
        for (const p of batch) p.done?.resolve();
      } catch (err) {
        this.failure ??= TributaryError.of(Reason.AUDIT_UNAVAILABLE, `cannot write the audit log: ${TributaryError.from(err).message}`, { cause: err });
        this.opts.logger.error({ err: TributaryError.from(err).message, dir: this.opts.dir }, 'audit log write failed: state-changing calls are refused until the coordinator restarts');
        for (const p of batch) p.done?.reject(this.failure);
      }
    }
  }

  /** The open segment file, switching to `seg` (and applying retention) when a seal moved on. */
  private async handleFor(seg: number): Promise<FileHandle> {
    if (this.file?.seg === seg) return this.file.handle;
    const rotated = this.file !== undefined;
    await this.file?.handle.close();
    this.file = undefined;
    const handle = await open(segmentPath(this.opts.dir, seg), 'a', PRIVATE_FILE_MODE);
    this.file = { seg, handle };
    if (rotated) await this.applyRetention(seg);
    return handle;
  }

  /** Removes the oldest sealed segments past `maxSegments` or older than the retention. */
  private async applyRetention(current: number): Promise<void> {
    const sealed = (await listSegments(this.opts.dir)).filter((s) => s < current);
    const keep = this.opts.maxSegments - 1;
    const cutoff = Date.now() - this.opts.retentionMs;
    for (const [n, seg] of sealed.entries()) {
      const excess = sealed.length - n > keep;
      if (!excess && (await sealTime(this.opts.dir, seg)) >= cutoff) break;
      await rm(segmentPath(this.opts.dir, seg), { force: true });
      this.opts.logger.info({ segment: seg }, 'audit log: sealed segment removed by retention');
    }
  }
}

/** Entries of the audit directory matching `filter`, oldest first, streamed. */
export async function* readAuditEntries(dir: string, filter: AuditFilter = {}): AsyncIterable<StoredAuditEntry> {
  for (const seg of await listSegments(dir)) {
    for await (const line of readLines(segmentPath(dir, seg))) {
      if (line.tooLong || line.torn) continue;
      const parsed = parseLine(line.text);
      if (!parsed.ok || parsed.record.kind !== 'entry') continue;
      const e = parsed.record.event;
      if (filter.sinceMs !== undefined && e.atMs < filter.sinceMs) continue;
      if (filter.principal !== undefined && e.keyId !== filter.principal && e.name !== filter.principal) continue;
      if (filter.federation !== undefined && !e.federation.split(',').includes(filter.federation)) continue;
      yield { ...e, segment: parsed.record.seg, index: parsed.record.i, hash: hashLine(line.text) };
    }
  }
}

async function lastHash(dir: string, seg: number): Promise<string> {
  let hash = GENESIS_HASH;
  for await (const line of readLines(segmentPath(dir, seg))) if (!line.torn) hash = hashLine(line.text);
  return hash;
}

/**
 * When a sealed segment was sealed: its file's last write, which was its seal (reading every kept
 * segment at each rotation would cost up to maxSegments x segmentSize of reads). 0 when it cannot
 * be read, so it goes first.
 */
async function sealTime(dir: string, seg: number): Promise<number> {
  return (await stat(segmentPath(dir, seg)).catch(() => undefined))?.mtimeMs ?? 0;
}
