import { createHash } from 'node:crypto';
import { Reason, TributaryError } from '../errors.js';
import type { ReasonCode } from '../errors.js';
import type { DownloadModelRequest } from '../generated/tributary/v1/DownloadModelRequest.js';
import type { ModelChunk__Output } from '../generated/tributary/v1/ModelChunk.js';
import { assertName } from '../names.js';
import { abortError } from './abort.js';
import { Backoff, DEFAULT_BACKOFF_POLICY, sleep, type BackoffPolicy } from './backoff.js';
import { isSha256Hex } from '../encoding.js';
import type { RpcClient } from './rpc-client.js';

export interface ModelDownloadRequest {
  readonly federation: string;
  /** The version to download; 0 for the latest. @default 0 */
  readonly version?: number;
  /** Digest and size announced beforehand (by a task); checked against the server's. */
  readonly expect?: { readonly sha256: string; readonly size: number };
}

export interface ModelDownloadOptions {
  /** Cancels the download; it then rejects with the abort error. */
  readonly signal?: AbortSignal;
  /** Resumes after retryable failures; attempts count only failures without progress. @default DEFAULT_BACKOFF_POLICY */
  readonly retry?: BackoffPolicy;
  /** Called before each resume, e.g. to log it. */
  readonly onRetry?: (info: { error: TributaryError; attempt: number; delayMs: number; offset: number }) => void;
}

/** A model version's payload (safetensors) exactly as committed. */
export interface DownloadedModel {
  readonly version: number;
  readonly sha256: string;
  readonly bytes: Buffer;
}


/**
 * Downloads a model version with `DownloadModel` (SiteService or AdminService: `rpc` is a
 * client of either). The chunks are hashed as they arrive; after a retryable failure the
 * download resumes from the last received offset, pinned to the version first seen; the total
 * size and SHA-256 are checked at the end (DATA_LOSS with DIGEST_MISMATCH or SIZE_MISMATCH
 * otherwise). A bad federation name or version is INVALID_ARGUMENT, before any call.
 */
export async function downloadModel(rpc: RpcClient, req: ModelDownloadRequest, opts: ModelDownloadOptions = {}): Promise<DownloadedModel> {
  const { federation } = req;
  assertName('federation', federation);
  const requested = req.version ?? 0;
  if (!Number.isSafeInteger(requested) || requested < 0) {
    throw TributaryError.invalidArgument(`model version must be a non-negative integer (0 = latest), got ${String(req.version)}`);
  }
  const { signal } = opts;
  const hash = createHash('sha256');
  const backoff = new Backoff({ policy: opts.retry ?? DEFAULT_BACKOFF_POLICY });
  let version = requested;
  let header: { totalSize: number; sha256: string } | undefined;
  let bytes: Buffer | undefined;
  let offset = 0;

  for (;;) {
    const offsetBefore = offset;
    try {
      const stream = rpc.serverStream<DownloadModelRequest, ModelChunk__Output>('DownloadModel', { federation, version, offset }, signal === undefined ? {} : { signal });
      for await (const chunk of stream) {
        if (header === undefined) {
          header = firstChunkHeader(chunk, req, requested);
          version = chunk.version;
          bytes = Buffer.allocUnsafe(header.totalSize);
        } else if (chunk.totalSize !== header.totalSize || chunk.sha256 !== header.sha256 || chunk.version !== version) {
          throw dataLoss(Reason.DIGEST_MISMATCH, `model ${federation} v${version} changed during the download`);
        }
        const data = chunk.data;
        if (chunk.offset !== offset) {
          throw dataLoss(Reason.SIZE_MISMATCH, `model chunk at offset ${chunk.offset}, expected ${offset}`);
        }
        if (offset + data.length > header.totalSize) {
          throw dataLoss(Reason.SIZE_MISMATCH, `model ${federation} v${version} is larger than its announced ${header.totalSize} bytes`);
        }
        data.copy(bytes as Buffer, offset);
        hash.update(data);
        offset += data.length;
      }
      if (header === undefined || bytes === undefined) {
        throw dataLoss(Reason.PAYLOAD_MISSING, `model ${federation} v${requested || 'latest'}: the server sent no data`);
      }
      if (offset < header.totalSize) {
        throw TributaryError.of(Reason.UNAVAILABLE, `model stream ended at byte ${offset} of ${header.totalSize}`);
      }
      const sha256 = hash.digest('hex');
      if (sha256 !== header.sha256) {
        throw dataLoss(Reason.DIGEST_MISMATCH, `model ${federation} v${version}: SHA-256 ${sha256} does not match the announced ${header.sha256}`);
      }
      return { version, sha256, bytes };
    } catch (err) {
      if (signal?.aborted === true) throw abortError(signal);
      const error = TributaryError.from(err);
      if (offset > offsetBefore) backoff.reset();
      const delayMs = backoff.retryDelay(error);
      if (delayMs === undefined) throw error;
      opts.onRetry?.({ error, attempt: backoff.attempt, delayMs, offset });
      await sleep(delayMs, signal);
    }
  }
}

function firstChunkHeader(chunk: ModelChunk__Output, req: ModelDownloadRequest, requested: number): { totalSize: number; sha256: string } {
  const { totalSize, sha256 } = chunk;
  if (!Number.isSafeInteger(totalSize) || totalSize <= 0 || !isSha256Hex(sha256)) {
    throw dataLoss(Reason.MALFORMED_PAYLOAD, `model ${req.federation}: the server announced size ${totalSize} and digest "${sha256}"`);
  }
  if (requested !== 0 && chunk.version !== requested) {
    throw dataLoss(Reason.MALFORMED_PAYLOAD, `asked for model ${req.federation} v${requested}, got v${chunk.version}`);
  }
  const expect = req.expect;
  if (expect !== undefined) {
    if (expect.sha256 !== '' && expect.sha256 !== sha256) {
      throw dataLoss(Reason.DIGEST_MISMATCH, `model ${req.federation} v${chunk.version}: expected SHA-256 ${expect.sha256}, the download announces ${sha256}`);
    }
    if (expect.size > 0 && expect.size !== totalSize) {
      throw dataLoss(Reason.SIZE_MISMATCH, `model ${req.federation} v${chunk.version}: expected ${expect.size} bytes, the download announces ${totalSize}`);
    }
  }
  return { totalSize, sha256 };
}

function dataLoss(reason: ReasonCode, message: string): TributaryError {
  return TributaryError.of(reason, message, { code: 'DATA_LOSS', retryable: false });
}
