import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Refusal } from '@tributary/proto';
import type { JetStreamClient, NatsConnection } from 'nats';
import { payloadMismatch, readPayload } from '../ingest/payload-reader.js';
import { readWholeFile } from '../state/index.js';
import { inspectStagedPayload, toFoldable, type FoldableUpdate, type FoldPolicy } from '../updates/foldable-update.js';

/** One payload in the data plane and what it must be. */
export interface CheckedPayloadRequest {
  js: JetStreamClient;
  nc: NatsConnection;
  /** The chunks' subject: an update's `trib.<federation>.payload.<site>.<id>`, or a partial's. */
  subject: string;
  /** @default TRIB_PAYLOADS */
  stream?: string;
  /** Directory for the staging file of a payload larger than one chunk. */
  stagingDir: string;
  /** Names the staging file (an update id, or a partial's key). */
  name: string;
  chunkCount: number;
  chunkSize: number;
  payloadSize: number;
  sha256: string;
  idleTimeoutMs: number;
  deadlineMs: number;
  pullAheadBytes: number;
}

/**
 * Reads a payload's chunks while hashing them, and checks its size and SHA-256 against what the
 * signed manifest said: the same reader the ingest uses. Answers the bytes (read whole: a fold
 * needs them all) or the refusal, with the reason the ingest would give.
 */
export async function readCheckedPayload(req: CheckedPayloadRequest): Promise<{ ok: true; bytes: Uint8Array } | { ok: false; refusal: Refusal }> {
  const path = join(req.stagingDir, req.name);
  try {
    const read = await readPayload({
      js: req.js,
      nc: req.nc,
      subject: req.subject,
      ...(req.stream === undefined ? {} : { stream: req.stream }),
      path,
      chunkCount: req.chunkCount,
      chunkSize: req.chunkSize,
      payloadSize: req.payloadSize,
      idleTimeoutMs: req.idleTimeoutMs,
      deadlineMs: req.deadlineMs,
      pullAheadBytes: req.pullAheadBytes,
    });
    if (!read.ok) return { ok: false, refusal: { reason: read.reason, message: read.message } };
    const mismatch = payloadMismatch(read, req.payloadSize, req.sha256);
    if (mismatch !== undefined) return { ok: false, refusal: mismatch };
    return { ok: true, bytes: read.staged.bytes ?? (await readWholeFile(read.staged.path)) };
  } finally {
    await rm(path, { force: true }).catch(() => undefined);
  }
}

/**
 * A digest-checked payload inspected as the ingest inspects it (header, schema, finite values,
 * integer range, norm) and decoded for a fold: no value reaches an aggregate before this.
 */
export async function foldableOf({ bytes, flavor, policy }: { bytes: Uint8Array; flavor: string; policy: FoldPolicy }): Promise<{ ok: true; foldable: FoldableUpdate } | { ok: false; refusal: Refusal }> {
  const inspected = await inspectStagedPayload(bytes, bytes.byteLength, flavor, policy);
  if (!inspected.ok) return { ok: false, refusal: inspected.refusal };
  return { ok: true, foldable: await toFoldable(bytes, flavor, policy, inspected.layout) };
}
