import { createHash } from 'node:crypto';
import {
  CHUNK_INDEX_HEADER,
  Reason,
  TributaryError,
  TENSORS_FLAVOR,
  abortError,
  allFinite,
  checkSpec,
  decodeSafetensors,
  safetensorsParts,
  isOpaqueFlavor,
  payloadFlavorProblem,
  sendInWindow,
  sleep,
  subjects,
  tensorSpecsOf,
} from '@tributary/proto';
import type { ReasonCode, TensorMap, TensorSpec__Output } from '@tributary/proto';
import { publishDurably } from './jetstream.js';
import type { SiteSession } from './session.js';
import { linkSignals } from './signals.js';
import type { SiteTask, TrainResult } from './types.js';

/**
 * A payload as its pieces in order (for tensors: the safetensors header, then each tensor's
 * bytes as a view of the returned weights, not a copy) and their total size.
 */
export interface PayloadParts {
  readonly parts: readonly Uint8Array[];
  readonly size: number;
}

/** A checked, encoded update, ready to publish. */
export interface EncodedUpdate {
  readonly payload: PayloadParts;
  /** "tensors" for safetensors, else the flavor of opaque bytes. */
  readonly flavor: string;
  /** The payload's tensor schema; empty for opaque bytes. */
  readonly tensors: TensorSpec__Output[];
  readonly numExamples: number;
  readonly metrics: Record<string, number>;
}

/**
 * Checks a train result against the task before anything leaves the site (the coordinator
 * would refuse it, later and at the cost of an upload) and encodes it: weights as
 * safetensors, a payload as its bytes. An empty task spec (heterogeneous federations) takes
 * tensors of any names and shapes.
 */
export function encodeUpdate(task: SiteTask, result: TrainResult): EncodedUpdate {
  if (typeof result !== 'object' || result === null) {
    throw refusedLocally(Reason.INVALID_ARGUMENT, 'train must return { weights, numExamples, metrics? } or { payload: { flavor, bytes }, numExamples, metrics? }');
  }
  const { numExamples } = result;
  if (typeof numExamples !== 'number' || !Number.isSafeInteger(numExamples)) {
    throw refusedLocally(Reason.INVALID_ARGUMENT, `numExamples must be a positive integer, got ${String(numExamples)}`);
  }
  if (numExamples <= 0) {
    throw refusedLocally(Reason.ZERO_EXAMPLES, `numExamples must be positive, got ${numExamples}`);
  }
  const metrics = result.metrics ?? {};
  if (typeof metrics !== 'object' || metrics === null) {
    throw refusedLocally(Reason.INVALID_ARGUMENT, 'metrics must be an object of finite numbers');
  }
  for (const [k, v] of Object.entries(metrics)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw refusedLocally(Reason.INVALID_ARGUMENT, `metric "${k}" must be a finite number, got ${String(v)}`);
    }
  }
  const common = { numExamples, metrics: { ...metrics } };
  if (result.payload !== undefined) {
    if (result.weights !== undefined) {
      throw refusedLocally(Reason.INVALID_ARGUMENT, 'train returned both weights and a payload; return one of them');
    }
    return { ...encodePayload(task, result.payload), ...common };
  }
  const { weights } = result;
  if (typeof weights !== 'object' || weights === null) {
    throw refusedLocally(Reason.INVALID_ARGUMENT, 'weights must be a TensorMap');
  }
  // The weights' own bytes are sent (views, no copy of the model): they must not change until the verdict.
  return { payload: safetensorsParts(weights), flavor: TENSORS_FLAVOR, tensors: checkedSpecs(task, weights), ...common };
}

/** A payload's bytes as sent: opaque flavors as they are, "tensors" bytes once they decode and check. */
function encodePayload(task: SiteTask, payload: { flavor: string; bytes: Uint8Array }): Pick<EncodedUpdate, 'payload' | 'flavor' | 'tensors'> {
  if (typeof payload !== 'object' || payload === null) {
    throw refusedLocally(Reason.INVALID_ARGUMENT, 'payload must be { flavor, bytes }');
  }
  const { flavor, bytes } = payload;
  const problem = payloadFlavorProblem(flavor);
  if (problem !== undefined) throw refusedLocally(Reason.INVALID_ARGUMENT, problem);
  if (!(bytes instanceof Uint8Array) || bytes.byteLength === 0) {
    throw refusedLocally(Reason.INVALID_ARGUMENT, `payload bytes must be a non-empty Uint8Array`);
  }
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isOpaqueFlavor(flavor)) {
    let tensors: TensorMap;
    try {
      tensors = decodeSafetensors(buffer).tensors;
    } catch (err) {
      throw refusedLocally(Reason.MALFORMED_PAYLOAD, `a "tensors" payload must be a safetensors file: ${TributaryError.from(err).message}`);
    }
    return { payload: { parts: [buffer], size: buffer.length }, flavor, tensors: checkedSpecs(task, tensors) };
  }
  if (task.modelSpec.length > 0) {
    throw refusedLocally(
      Reason.SCHEMA_MISMATCH,
      `${task.federation} expects tensors in its model spec; a "${flavor}" payload is only taken by heterogeneous federations (ensembles)`,
    );
  }
  return { payload: { parts: [buffer], size: buffer.length }, flavor, tensors: [] };
}

/** The tensors' schema once it matches the task's spec (any schema when the spec is empty) and every value is finite. */
function checkedSpecs(task: SiteTask, weights: TensorMap): TensorSpec__Output[] {
  const tensors = tensorSpecsOf(weights);
  if (tensors.length === 0) {
    throw refusedLocally(Reason.SCHEMA_MISMATCH, 'the model holds no tensors');
  }
  const mismatch = task.modelSpec.length === 0 ? undefined : checkSpec(task.modelSpec, tensors);
  if (mismatch !== undefined) {
    throw refusedLocally(
      Reason.SCHEMA_MISMATCH,
      `weights do not match the model spec of ${task.federation}: ${mismatch}`,
    );
  }
  for (const [name, t] of Object.entries(weights)) {
    if (!allFinite(t)) {
      throw refusedLocally(Reason.NON_FINITE, `tensor "${name}" holds NaN or infinite values`);
    }
  }
  return tensors;
}

/** An update refused before anything was sent. */
function refusedLocally(reason: ReasonCode, message: string): TributaryError {
  return TributaryError.of(reason, `update not sent: ${message}`, { details: { local: true } });
}

export interface PublishedPayload {
  readonly sha256: string;
  readonly size: number;
  readonly chunkCount: number;
  readonly chunkSize: number;
}

/**
 * Publishes the payload in chunks on trib.<fed>.payload.<site>.<updateId> (msgID `<site>.<updateId>.<i>`,
 * header Trib-Chunk = i), hashing each chunk as it is sliced: a chunk within one part is a view of
 * it, only one that spans parts (the header and the first bytes of a tensor) is copied. Chunk `i`
 * goes out only once chunk `i - MAX_CHUNKS_IN_FLIGHT` is acked (`sendInWindow`): a window over
 * indexes, not a count, so while one chunk is being retried (a NATS restart) later ones cannot
 * run ahead of it by more than the window. Resolves once every chunk is acked.
 */
export async function publishPayload(
  session: SiteSession,
  federation: string,
  updateId: string,
  payload: PayloadParts,
  signal: AbortSignal,
  opts: {
    /** The round's deadline (epoch ms): no chunk is retried past it. */
    deadlineAtMs?: number;
    /** Told the bytes acked so far, after each chunk's ack. */
    onProgress?: (bytes: number) => void;
  } = {},
): Promise<PublishedPayload> {
  const { chunkSize, retry, uploadBytesPerSecond } = session.options;
  const started = Date.now();
  let acked = 0;
  const chunkCount = Math.ceil(payload.size / chunkSize);
  const chunks = new PayloadChunks(payload);
  const subject = subjects.sitePayload(federation, session.site, updateId);
  const hash = createHash('sha256');
  // The first failure stops the chunks still retrying.
  const stop = linkSignals([signal]);
  try {
    await sendInWindow({
      count: chunkCount,
      send: async (i) => {
        if (stop.signal.aborted) throw abortError(stop.signal);
        // Sends start in index order, so the chunks are hashed in order before anything is awaited.
        const chunk = chunks.slice(i * chunkSize, Math.min(payload.size, (i + 1) * chunkSize));
        hash.update(chunk);
        // With a rate cap, chunk i leaves no earlier than its share of the allowed rate.
        if (uploadBytesPerSecond > 0) {
          const due = started + ((i * chunkSize) / uploadBytesPerSecond) * 1000;
          if (due > Date.now()) await sleep(due - Date.now(), stop.signal).catch(() => undefined);
          if (stop.signal.aborted) throw abortError(stop.signal);
        }
        try {
          await publishDurably(
            session.js,
            { subject, data: chunk, msgID: `${session.site}.${updateId}.${i}`, headers: { [CHUNK_INDEX_HEADER]: String(i) } },
            { policy: retry, maxAttempts: retry.maxAttempts, signal: stop.signal, logger: session.logger, ...(opts.deadlineAtMs === undefined ? {} : { deadlineAtMs: opts.deadlineAtMs }) },
          );
        } catch (error) {
          stop.abort(error);
          throw error;
        }
        acked += chunk.length;
        opts.onProgress?.(acked);
      },
    });
  } catch (error) {
    if (signal.aborted) throw abortError(signal);
    throw error;
  } finally {
    stop.dispose();
  }
  if (signal.aborted) throw abortError(signal);
  return { sha256: hash.digest('hex'), size: payload.size, chunkCount, chunkSize };
}

/** Byte ranges of a payload in parts, read front to back: a view when one part holds the range, else a copy. */
export class PayloadChunks {
  /** The part holding the next range's start, and that part's offset in the payload. */
  private part = 0;
  private partStart = 0;

  constructor(private readonly payload: PayloadParts) {}

  /** Bytes [begin, end) of the payload; ranges must come in order, without gaps. */
  slice(begin: number, end: number): Uint8Array {
    const { parts } = this.payload;
    while (this.part < parts.length && this.partStart + (parts[this.part] as Uint8Array).length <= begin) {
      this.partStart += (parts[this.part] as Uint8Array).length;
      this.part++;
    }
    const first = parts[this.part] as Uint8Array;
    if (end <= this.partStart + first.length) return first.subarray(begin - this.partStart, end - this.partStart);
    const out = new Uint8Array(end - begin);
    let at = 0;
    let start = this.partStart;
    for (let p = this.part; at < out.length && p < parts.length; p++) {
      const part = parts[p] as Uint8Array;
      const from = Math.max(0, begin - start);
      const to = Math.min(part.length, end - start);
      if (to > from) {
        out.set(part.subarray(from, to), at);
        at += to - from;
      }
      start += part.length;
    }
    return out;
  }
}
