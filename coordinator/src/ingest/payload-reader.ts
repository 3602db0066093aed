import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { CHUNK_INDEX_HEADER, CHUNK_WINDOW, Reason, STREAM_PAYLOADS, TributaryError, refusalOf, type ReasonCode, type Refusal } from '@tributary/proto';
import type { Consumer, ConsumerMessages, JetStreamClient } from 'nats';
import { PRIVATE_FILE_MODE } from '../config/private-file.js';

export interface PayloadReadRequest {
  js: JetStreamClient;
  /** `trib.<federation>.payload.<site>.<updateId>`: the authenticated sender's chunks only. */
  subject: string;
  /** Staging file to create (truncated if present). */
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
}

export type PayloadReadResult = { ok: true; bytes: number; sha256: string } | ({ ok: false } & Refusal);

/**
 * Reads one update's chunks in stream order with an ordered consumer filtered to its payload
 * subject, writing them to a staging file while hashing: memory stays at the pull-ahead window.
 * Chunk indexes must run 0..chunkCount-1, each stored fewer than CHUNK_WINDOW places out of
 * order (held in memory until their turn), and sizes must match the manifest's layout.
 * The caller compares the digest and removes the file on refusal.
 */
export async function readPayload(req: PayloadReadRequest): Promise<PayloadReadResult> {
  const consumer = await req.js.consumers.get(STREAM_PAYLOADS, { filterSubjects: req.subject });
  // The window is counted in chunks, not bytes: nats.js rewrites a consume options object in
  // place, and an ordered consumer that resets (after missed heartbeats under load) re-reads it;
  // with max_bytes it then holds both limits and throws outside any caller's reach.
  const window = Math.max(1, Math.floor(req.pullAheadBytes / Math.max(1, req.chunkSize)));
  const messages = await boundedConsume(consumer, window, Math.min(req.idleTimeoutMs, READER_START_MS));
  const file = await open(req.path, 'w', PRIVATE_FILE_MODE);
  const hash = createHash('sha256');
  const lastSize = req.payloadSize - req.chunkSize * (req.chunkCount - 1);
  let next = 0;
  let bytes = 0;
  /** Chunks stored ahead of their turn (a sender's retry after a NATS failure), fewer than CHUNK_WINDOW. */
  const early = new Map<number, Uint8Array>();
  let idle = false;
  let late = false;
  let failure: ({ ok: false } & Refusal) | undefined;
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
      const index = chunkIndex(m.headers?.get(CHUNK_INDEX_HEADER));
      if (index === undefined) {
        failure = refused(Reason.MALFORMED_PAYLOAD, `chunk ${next} has no valid ${CHUNK_INDEX_HEADER} header`);
        break;
      }
      // A resubmit after the duplicate window repeats chunks already read; the digest covers the rest.
      if (index < next || early.has(index)) continue;
      if (index >= next + CHUNK_WINDOW || index >= req.chunkCount) {
        failure = refused(Reason.PAYLOAD_MISSING, `chunk ${next} of ${req.chunkCount} is missing (chunk ${index} came next)`);
        break;
      }
      const expected = index === req.chunkCount - 1 ? lastSize : req.chunkSize;
      if (m.data.length !== expected) {
        failure = refused(Reason.SIZE_MISMATCH, `chunk ${index} has ${m.data.length} bytes, the manifest implies ${expected}`);
        break;
      }
      early.set(index, m.data);
      for (let chunk = early.get(next); chunk !== undefined; chunk = early.get(next)) {
        early.delete(next);
        hash.update(chunk);
        await file.write(chunk);
        bytes += chunk.length;
        next++;
      }
      if (next === req.chunkCount) break;
    }
  } finally {
    clearTimeout(timer);
    clearTimeout(deadline);
    messages.stop();
    await file.close();
    // Ordered consumers otherwise linger on the server for minutes after use; the delete need
    // not hold up the verdict.
    void consumer.delete().catch(() => false);
  }
  if (failure !== undefined) return failure;
  if (next < req.chunkCount && late) {
    return refused('UPLOAD_TIMEOUT', `received ${next} of ${req.chunkCount} chunks within the upload deadline of ${Math.round(req.deadlineMs / 1000)} s`);
  }
  if (next < req.chunkCount) {
    const why = idle ? `within ${req.idleTimeoutMs} ms` : 'before the stream ended';
    return refused(Reason.PAYLOAD_MISSING, `received ${next} of ${req.chunkCount} chunks ${why}`);
  }
  return { ok: true, bytes, sha256: hash.digest('hex') };
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
