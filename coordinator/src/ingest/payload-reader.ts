import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CHUNK_INDEX_HEADER, CHUNK_WINDOW, Reason, STREAM_PAYLOADS, TributaryError, refusalOf, type ReasonCode, type Refusal } from '@tributary/proto';
import { DeliverPolicy, ErrorCode, NatsError, type Consumer, type ConsumerMessages, type JetStreamClient, type MsgHdrs, type NatsConnection } from 'nats';
import { PRIVATE_FILE_MODE } from '../config/private-file.js';

export interface PayloadReadRequest {
  js: JetStreamClient;
  /** For direct gets of chunks already stored (the stream allows direct access). */
  nc: NatsConnection;
  /** `trib.<federation>.payload.<site>.<updateId>`: the authenticated sender's chunks only. */
  subject: string;
  /** The stream holding the chunks. @default TRIB_PAYLOADS (an aggregation worker's partial sums are on TRIB_PARTIALS) */
  stream?: string;
  /** Staging file to create (truncated if present) when the payload is not kept in memory. */
  path: string;
  chunkCount: number;
  /** Size of every chunk but the last. */
  chunkSize: number;
  payloadSize: number;
  /** Longest wait for the next chunk. */
  idleTimeoutMs: number;
  /** Longest the whole read may take, from this call: past it the read stops with UPLOAD_TIMEOUT. */
  deadlineMs: number;
  /** Bytes pulled ahead of the reader: NATS drops a connection with more than 64 MB unsent to it, so keep this well below, whatever else the connection carries. */
  pullAheadBytes: number;
  /** Told of each chunk that arrives while the read waits for it: the upload is moving. */
  onChunk?: () => void;
}

/**
 * A payload read whole and digest-checked by the caller: in memory when small (`bytes`), else in
 * the staging file at `path`.
 */
export type StagedPayload = { readonly path: string; readonly bytes?: undefined } | { readonly bytes: Uint8Array; readonly path?: undefined };

export type PayloadReadResult = { ok: true; bytes: number; sha256: string; staged: StagedPayload } | ({ ok: false } & Refusal);

/**
 * Payloads up to this size stay in memory instead of a staging file: a model of 2M float32
 * parameters. The ingest's budgets bound what that holds (at most this much for each of its
 * large slots, 4 by default, the small updates' byte budget for the rest), and it spares an
 * update a file write, its open and close, and two reads back (inspection, fold): at 1e6
 * parameters that was a tenth of the coordinator's busy time in a round of 100 sites.
 */
export const IN_MEMORY_PAYLOAD_BYTES = 8 * 1024 * 1024;

/**
 * Payloads of up to this many chunks are read by direct gets (one request a chunk, no consumer);
 * longer ones through an ordered consumer, whose pull-ahead window streams faster once its
 * set-up (a consumer created and deleted on the server, 10-40 ms) is paid.
 */
const DIRECT_READ_MAX_CHUNKS = 2;

/** A direct get's answer: its status, and the stored message's sequence. */
const OK = 200;
const NOT_FOUND = 404;
const DIRECT_SEQUENCE_HEADER = 'Nats-Sequence';

/**
 * Reads one update's chunks in stream order, hashing them into memory or a staging file: memory
 * stays at the pull-ahead window. Sites publish every chunk (acked) before the manifest, so the
 * chunks of a short payload are normally stored already and fetched with direct gets by subject;
 * from the first one not stored yet (a client that sends the manifest early, a slow replica), and
 * for long payloads, an ordered consumer filtered to the subject waits for them, starting after
 * the last chunk read. Chunk indexes must run 0..chunkCount-1 and sizes must match the manifest's
 * layout. The caller compares the digest and removes the file on refusal.
 */
export async function readPayload(req: PayloadReadRequest): Promise<PayloadReadResult> {
  const assembly = await PayloadAssembly.open(req);
  let failure: ({ ok: false } & Refusal) | undefined;
  try {
    let lastSeq = 0;
    if (req.chunkCount <= DIRECT_READ_MAX_CHUNKS) {
      while (!assembly.complete) {
        const m = await storedChunk(req.nc, req.stream ?? STREAM_PAYLOADS, req.subject, lastSeq + 1);
        if (m === undefined) break;
        lastSeq = m.seq;
        failure = await assembly.take(m.header, m.data);
        if (failure !== undefined) return failure;
      }
    }
    if (!assembly.complete) failure = await readByConsumer(req, assembly, lastSeq + 1);
  } finally {
    await assembly.close();
  }
  if (failure !== undefined) return failure;
  return { ok: true, bytes: assembly.bytes, sha256: assembly.digest(), staged: assembly.staged() };
}

/** The longest delay a Node timer takes; a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** How long a payload of `bytes` may take to read: the minimum rate, never less than the minimum time, within a timer's range. */
export function payloadReadDeadlineMs(bytes: number, limits: { minUploadMs: number; minUploadBytesPerSecond: number }): number {
  return Math.min(MAX_TIMER_MS, Math.max(limits.minUploadMs, Math.ceil((bytes / limits.minUploadBytesPerSecond) * 1000)));
}

/**
 * Checks a payload read against what its signed manifest said: the refusal when its size or
 * SHA-256 differ, else undefined.
 */
export function payloadMismatch(read: { bytes: number; sha256: string }, payloadSize: number, sha256: string): Refusal | undefined {
  if (read.bytes !== payloadSize) return refusalOf(Reason.SIZE_MISMATCH, `payload has ${read.bytes} bytes, the manifest says ${payloadSize}`);
  if (read.sha256 !== sha256) return refusalOf(Reason.DIGEST_MISMATCH, `payload SHA-256 is ${read.sha256}, the manifest says ${sha256}`);
  return undefined;
}

/** Longest wait for a direct get's answer. */
const DIRECT_GET_TIMEOUT_MS = 10_000;

/**
 * The next stored message on `subject` at or after `seq` (a JetStream direct get: the stored
 * message itself, its headers and sequence in the answer's headers), or undefined when there is
 * none yet or the stream does not answer direct gets.
 */
async function storedChunk(nc: NatsConnection, stream: string, subject: string, seq: number): Promise<{ seq: number; header: MsgHdrs | undefined; data: Uint8Array } | undefined> {
  let m;
  try {
    m = await nc.request(`$JS.API.DIRECT.GET.${stream}`, JSON.stringify({ seq, next_by_subj: subject }), { timeout: DIRECT_GET_TIMEOUT_MS });
  } catch (err) {
    if (err instanceof NatsError && err.code === ErrorCode.NoResponders) return undefined;
    throw err;
  }
  const status = m.headers?.code ?? 0;
  if (status === NOT_FOUND) return undefined;
  const stored = Number(m.headers?.get(DIRECT_SEQUENCE_HEADER));
  if ((status !== 0 && status !== OK) || !Number.isSafeInteger(stored) || stored < seq) {
    throw TributaryError.internal(`direct get on ${stream} answered ${status} ${m.headers?.description ?? ''}`.trim());
  }
  return { seq: stored, header: m.headers, data: m.data };
}

/** Reads the remaining chunks from `startSeq` on with an ordered consumer, waiting for chunks not yet stored. */
async function readByConsumer(req: PayloadReadRequest, assembly: PayloadAssembly, startSeq: number): Promise<({ ok: false } & Refusal) | undefined> {
  const consumer = await req.js.consumers.get(req.stream ?? STREAM_PAYLOADS, {
    filterSubjects: req.subject,
    ...(startSeq > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq } : {}),
  });
  // The window is counted in chunks, not bytes: nats.js rewrites a consume options object in
  // place, and an ordered consumer that resets (after missed heartbeats under load) re-reads it;
  // with max_bytes it then holds both limits and throws outside any caller's reach.
  const window = Math.max(1, Math.floor(req.pullAheadBytes / Math.max(1, req.chunkSize)));
  const messages = await boundedConsume(consumer, window, Math.min(req.idleTimeoutMs, READER_START_MS));
  let idle = false;
  let late = false;
  let timer: NodeJS.Timeout | undefined;
  const deadline = setTimeout(() => {
    late = true;
    messages.stop();
  }, req.deadlineMs);
  const armTimer = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      idle = true;
      messages.stop();
    }, req.idleTimeoutMs);
  };
  try {
    armTimer();
    for await (const m of messages) {
      armTimer();
      req.onChunk?.();
      const failure = await assembly.take(m.headers, m.data);
      if (failure !== undefined) return failure;
      if (assembly.complete) return undefined;
    }
  } finally {
    clearTimeout(timer);
    clearTimeout(deadline);
    messages.stop();
    // Ordered consumers otherwise linger on the server for minutes after use; the delete need
    // not hold up the verdict.
    void consumer.delete().catch(() => false);
  }
  if (late) {
    return refused('UPLOAD_TIMEOUT', `received ${assembly.next} of ${req.chunkCount} chunks within the upload deadline of ${Math.round(req.deadlineMs / 1000)} s`);
  }
  const why = idle ? `within ${req.idleTimeoutMs} ms` : 'before the stream ended';
  return refused(Reason.PAYLOAD_MISSING, `received ${assembly.next} of ${req.chunkCount} chunks ${why}`);
}

/** Longest stretch of chunk handling (SHA-256 of 1 MiB is under a millisecond) before the event loop gets a turn. */
const TURN_EVERY_MS = 4;

/** Chunks checked in index order, hashed, and kept in memory or written to the staging file. */
class PayloadAssembly {
  next = 0;
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');
  private readonly parts: Uint8Array[] = [];
  /** Chunks stored ahead of their turn, fewer than CHUNK_WINDOW. */
  private readonly early = new Map<number, Uint8Array>();
  private readonly lastSize: number;
  /** When the event loop last had a turn during this read (see `take`). */
  private turnAt = performance.now();

  private constructor(
    private readonly req: PayloadReadRequest,
    /** Undefined when the payload is kept in memory. */
    private readonly file: FileHandle | undefined,
  ) {
    this.lastSize = req.payloadSize - req.chunkSize * (req.chunkCount - 1);
  }

  static async open(req: PayloadReadRequest): Promise<PayloadAssembly> {
    const inMemory = req.payloadSize <= IN_MEMORY_PAYLOAD_BYTES;
    return new PayloadAssembly(req, inMemory ? undefined : await open(req.path, 'w', PRIVATE_FILE_MODE));
  }

  get complete(): boolean {
    return this.next === this.req.chunkCount;
  }

  /**
   * Takes the next message of the subject: a refusal ends the read; a repeated chunk is skipped.
   * A chunk stored ahead of its turn (a sender's retry after a NATS failure) is held until its
   * turn, fewer than CHUNK_WINDOW places ahead; sizes are checked before a chunk is held.
   */
  async take(headers: MsgHdrs | undefined, data: Uint8Array): Promise<({ ok: false } & Refusal) | undefined> {
    const index = chunkIndex(headers?.get(CHUNK_INDEX_HEADER));
    if (index === undefined) return refused(Reason.MALFORMED_PAYLOAD, `chunk ${this.next} has no valid ${CHUNK_INDEX_HEADER} header`);
    // A resubmit after the duplicate window repeats chunks already read; the digest covers the rest.
    if (index < this.next || this.early.has(index)) return undefined;
    if (index >= this.next + CHUNK_WINDOW || index >= this.req.chunkCount) {
      return refused(Reason.PAYLOAD_MISSING, `chunk ${this.next} of ${this.req.chunkCount} is missing (chunk ${index} came next)`);
    }
    const expected = index === this.req.chunkCount - 1 ? this.lastSize : this.req.chunkSize;
    if (data.length !== expected) return refused(Reason.SIZE_MISMATCH, `chunk ${index} has ${data.length} bytes, the manifest implies ${expected}`);
    this.early.set(index, data);
    for (let chunk = this.early.get(this.next); chunk !== undefined; chunk = this.early.get(this.next)) {
      this.early.delete(this.next);
      this.hash.update(chunk);
      if (this.file !== undefined) {
        await this.file.write(chunk);
        this.turnAt = performance.now();
      } else this.parts.push(chunk);
      this.bytes += chunk.length;
      this.next++;
    }
    // Chunks already pulled arrive as a batch, handed over without a turn of the event loop in
    // between; hashing (and, in memory, keeping) them one after another would hold the loop for
    // the whole batch, so after TURN_EVERY_MS of it timers and I/O get their turn.
    if (performance.now() - this.turnAt >= TURN_EVERY_MS) {
      await nextTurn();
      this.turnAt = performance.now();
    }
    return undefined;
  }

  digest(): string {
    return this.hash.digest('hex');
  }

  staged(): StagedPayload {
    if (this.file !== undefined) return { path: this.req.path };
    return { bytes: this.parts.length === 1 ? (this.parts[0] as Uint8Array) : Buffer.concat(this.parts) };
  }

  async close(): Promise<void> {
    await this.file?.close();
  }
}

/** Longest wait for the ordered consumer to be created (milliseconds when the stream has a leader). */
const READER_START_MS = 10_000;

/**
 * The ordered consumer's messages, or a retryable NATS_UNAVAILABLE after `ms`: while a cluster
 * elects a new stream leader, nats.js retries creating the consumer for minutes, inside
 * `consume()`, before any timer of the read runs. The manifest is then retried, not refused;
 * a consumer created late is stopped and deleted.
 */
async function boundedConsume(consumer: Consumer, window: number, ms: number): Promise<ConsumerMessages> {
  const pending = consumer.consume({ max_messages: window });
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  const messages = await Promise.race([pending, expired]).finally(() => clearTimeout(timer));
  if (messages !== undefined) return messages;
  pending.then(
    (late) => {
      late.stop();
      void consumer.delete().catch(() => false);
    },
    () => undefined,
  );
  throw TributaryError.of(Reason.NATS_UNAVAILABLE, `the payload stream did not start a reader within ${ms} ms`, { retryable: true });
}

function chunkIndex(header: string | undefined): number | undefined {
  if (header === undefined || !/^(0|[1-9][0-9]{0,9})$/.test(header)) return undefined;
  return Number(header);
}

function refused(reason: ReasonCode, message: string): { ok: false } & Refusal {
  return { ok: false, ...refusalOf(reason, message) };
}
