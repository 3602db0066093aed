import { createHash } from 'node:crypto';
import { Reason, TributaryError, assertName } from '@tributary/proto';
import type { DownloadModelRequest, ModelChunk__Output, ReasonCode, RpcClient } from '@tributary/proto';
import { Backoff, sleep } from './backoff.js';
import type { BackoffPolicy } from './backoff.js';
import { describeError } from './logging.js';
import type { SiteLogger } from './logging.js';
import { abortError } from './signals.js';

export interface ModelDownloadRequest {
  readonly federation: string;
  /** 0 for the latest version. */
  readonly version: number;
  /** Digest and size announced beforehand (by the task); checked against the server's. */
  readonly expect?: { readonly sha256: string; readonly size: number };
}

export interface ModelDownloadContext {
  readonly rpc: RpcClient;
  readonly retry: BackoffPolicy & { readonly maxAttempts: number };
  readonly logger: SiteLogger;
  readonly signal?: AbortSignal;
}

export interface DownloadedModel {
  readonly version: number;
  readonly sha256: string;
  readonly bytes: Buffer;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * A model version's payload exactly as committed, size- and SHA-256-checked, after validating
 * the request (INVALID_ARGUMENT for a bad federation name or version). `version` 0 is the
 * latest. The bytes are safetensors; an ensemble's decode with `decodeEnsemble`.
 */
export async function downloadModelVersion(
  ctx: ModelDownloadContext,
  req: { readonly federation: string; readonly version: number },
): Promise<DownloadedModel> {
  assertName('federation', req.federation);
  if (!Number.isSafeInteger(req.version) || req.version < 0) {
    throw new TributaryError({
      code: 'INVALID_ARGUMENT',
      reason: Reason.INVALID_ARGUMENT,
      message: `model version must be a non-negative integer (0 = latest), got ${String(req.version)}`,
    });
  }
  return downloadModelPayload(ctx, { federation: req.federation, version: req.version });
}

/**
 * Downloads a model payload with DownloadModel, resuming from the last offset after transient
 * failures, hashing as the chunks arrive, and checking the total size and SHA-256 at the end.
 * The attempt budget is spent only by failures without progress.
 */
export async function downloadModelPayload(
  ctx: ModelDownloadContext,
  req: ModelDownloadRequest,
): Promise<DownloadedModel> {
  const { federation } = req;
  const hash = createHash('sha256');
  const backoff = new Backoff(ctx.retry);
  let version = req.version;
  let header: { totalSize: number; sha256: string } | undefined;
  let bytes: Buffer | undefined;
  let offset = 0;

  for (;;) {
    const offsetBefore = offset;
    try {
      const stream = ctx.rpc.serverStream<DownloadModelRequest, ModelChunk__Output>(
        'DownloadModel',
        { federation, version, offset },
        ctx.signal === undefined ? {} : { signal: ctx.signal },
      );
      for await (const chunk of stream) {
        if (header === undefined) {
          header = firstChunkHeader(chunk, req);
          version = chunk.version;
          bytes = Buffer.allocUnsafe(header.totalSize);
        } else if (
          chunk.totalSize !== header.totalSize ||
          chunk.sha256 !== header.sha256 ||
          chunk.version !== version
        ) {
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
        throw dataLoss(Reason.PAYLOAD_MISSING, `model ${federation} v${req.version || 'latest'}: the server sent no data`);
      }
      if (offset < header.totalSize) {
        throw new TributaryError({
          code: 'UNAVAILABLE',
          reason: 'UNAVAILABLE',
          message: `model stream ended at byte ${offset} of ${header.totalSize}`,
        });
      }
      const sha256 = hash.digest('hex');
      if (sha256 !== header.sha256) {
        throw dataLoss(Reason.DIGEST_MISMATCH, `model ${federation} v${version}: SHA-256 ${sha256} does not match the announced ${header.sha256}`);
      }
      return { version, sha256, bytes };
    } catch (err) {
      if (ctx.signal?.aborted === true) throw abortError(ctx.signal);
      const e = TributaryError.from(err);
      if (offset > offsetBefore) backoff.reset();
      if (!e.retryable || backoff.attempt + 1 >= ctx.retry.maxAttempts) throw e;
      const delayMs = backoff.nextDelay();
      ctx.logger.warn(
        { federation, version, offset, attempt: backoff.attempt, delayMs, err: describeError(e) },
        'model download interrupted; resuming',
      );
      await sleep(delayMs, ctx.signal);
    }
  }
}

function firstChunkHeader(
  chunk: ModelChunk__Output,
  req: ModelDownloadRequest,
): { totalSize: number; sha256: string } {
  const { totalSize, sha256 } = chunk;
  if (!Number.isSafeInteger(totalSize) || totalSize <= 0 || !SHA256_HEX.test(sha256)) {
    throw dataLoss(Reason.MALFORMED_PAYLOAD, `model ${req.federation}: the server announced size ${totalSize} and digest "${sha256}"`);
  }
  if (req.version !== 0 && chunk.version !== req.version) {
    throw dataLoss(Reason.MALFORMED_PAYLOAD, `asked for model ${req.federation} v${req.version}, got v${chunk.version}`);
  }
  const expect = req.expect;
  if (expect !== undefined) {
    if (expect.sha256 !== '' && expect.sha256 !== sha256) {
      throw dataLoss(Reason.DIGEST_MISMATCH, `model ${req.federation} v${chunk.version}: the task announced SHA-256 ${expect.sha256}, the download ${sha256}`);
    }
    if (expect.size > 0 && expect.size !== totalSize) {
      throw dataLoss(Reason.SIZE_MISMATCH, `model ${req.federation} v${chunk.version}: the task announced ${expect.size} bytes, the download ${totalSize}`);
    }
  }
  return { totalSize, sha256 };
}

function dataLoss(reason: ReasonCode, message: string): TributaryError {
  return new TributaryError({ code: 'DATA_LOSS', reason, message, retryable: false });
}
