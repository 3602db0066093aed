import {
  CHUNK_INDEX_HEADER,
  DEFAULT_CHUNK_SIZE,
  encodeEnvelope,
  encodeManifest,
  encodeSafetensors,
  newUpdateId,
  retry,
  openVerdict,
  sha256Hex,
  type BackoffPolicy,
  signEnvelope,
  subjects,
  tensorSpecsOf,
  type SigningKey,
  type TensorMap,
  type UpdateManifest,
  type UpdateStatus__Output,
} from '@tributary/proto';
import { ErrorCode, NatsError, connect, headers as natsHeaders, type ConnectionOptions, type MsgHdrs, type NatsConnection } from 'nats';

export interface RawUpdateOptions {
  key: SigningKey;
  site: string;
  federation: string;
  runId: string;
  round: number;
  weights: TensorMap;
  numExamples?: number;
  updateId?: string;
  /** Fields to override in the manifest after it is computed honestly. */
  tamper?: Partial<UpdateManifest>;
  /** Bytes to send instead of the payload (the manifest still describes `weights`). */
  payloadOverride?: Uint8Array;
  /** Signs with this key instead of `key` (a forgery). */
  signer?: SigningKey;
  subject?: string;
  /** Bytes per payload chunk. @default DEFAULT_CHUNK_SIZE */
  chunkSize?: number;
  /**
   * Publishes each message again under the same msgID while JetStream answers 503 (no
   * responders: a stream leader being elected) or not at all, as the SDK does. @default no retry
   */
  retry?: BackoffPolicy;
}

/** The failures a cluster gives while it elects a stream leader: worth the same message again. */
function isElectionFailure(err: unknown): boolean {
  return err instanceof NatsError && (err.code === ErrorCode.NoResponders || err.code === ErrorCode.Timeout || err.code === ErrorCode.JetStream408RequestTimeout);
}

/** One JetStream message of an upload. */
export interface RawChunk {
  subject: string;
  data: Uint8Array;
  msgID: string;
  headers: MsgHdrs;
}

/** An update's messages, ready to publish in any order over any connection. */
export interface RawUpload {
  updateId: string;
  chunks: RawChunk[];
  manifest: { subject: string; bytes: Uint8Array };
}

/** The payload chunks and the signed manifest of an update, as the SDK would send them. */
export function prepareUpload(opts: RawUpdateOptions): RawUpload {
  const updateId = opts.updateId ?? newUpdateId();
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const payload = encodeSafetensors(opts.weights);
  const sent = opts.payloadOverride ?? payload;
  const count = Math.max(1, Math.ceil(sent.byteLength / chunkSize));
  const chunks: RawChunk[] = [];
  for (let i = 0; i < count; i++) {
    const h = natsHeaders();
    h.set(CHUNK_INDEX_HEADER, String(i));
    chunks.push({ subject: subjects.sitePayload(opts.federation, opts.site, updateId), data: sent.subarray(i * chunkSize, (i + 1) * chunkSize), msgID: `${opts.site}.${updateId}.${i}`, headers: h });
  }
  const manifest: UpdateManifest = {
    federation: opts.federation,
    runId: opts.runId,
    round: opts.round,
    site: opts.site,
    updateId,
    createdAtMs: Date.now(),
    numExamples: opts.numExamples ?? 10,
    metrics: {},
    payloadSize: payload.byteLength,
    payloadSha256: sha256Hex(payload),
    chunkCount: count,
    chunkSize,
    tensors: tensorSpecsOf(opts.weights),
    flavor: 'tensors',
    baseVersion: 0,
    ...opts.tamper,
  };
  const envelope = signEnvelope('update', encodeManifest(manifest), opts.signer ?? opts.key);
  if (opts.signer) envelope.keyId = opts.key.keyId;
  const subject = opts.subject ?? subjects.update(opts.federation, opts.runId, opts.round, opts.site);
  return { updateId, chunks, manifest: { subject, bytes: encodeEnvelope(envelope) } };
}

/**
 * A hand-driven site that can send anything, well-formed or not, straight onto NATS. It believes
 * only verdicts signed by `coordinatorKey`, the coordinator's public key.
 */
export class RawSite {
  /** The last manifest envelope sent, byte for byte, for replay tests. */
  lastEnvelope: { subject: string; bytes: Uint8Array } | undefined;

  private constructor(
    readonly nc: NatsConnection,
    private readonly coordinatorKey: Uint8Array,
  ) {}

  static async connect(url: string, coordinatorKey: Uint8Array, options: Partial<ConnectionOptions> = {}): Promise<RawSite> {
    return new RawSite(await connect({ servers: [url], ...options }), coordinatorKey);
  }

  /**
   * Publishes payload chunks, then a manifest signed by `signer`; resolves with the verdict. When
   * the publish fails, the verdict wait ends with it: no timer outlives the call.
   */
  async send(opts: RawUpdateOptions, verdictTimeoutMs?: number): Promise<UpdateStatus__Output> {
    const updateId = opts.updateId ?? newUpdateId();
    const cancel = new AbortController();
    const verdict = this.verdict(opts.federation, opts.site, updateId, verdictTimeoutMs, cancel.signal);
    try {
      await this.publish({ ...opts, updateId });
    } catch (err) {
      cancel.abort();
      await verdict.catch(() => undefined);
      throw err;
    }
    return verdict;
  }

  /** Publishes payload chunks, then a manifest signed by `signer`; resolves with its update id, not waiting for any verdict. */
  async publish(opts: RawUpdateOptions): Promise<string> {
    const js = this.nc.jetstream();
    const upload = prepareUpload(opts);
    const policy = opts.retry;
    const durably = <T>(fn: () => Promise<T>): Promise<T> => (policy === undefined ? fn() : retry(fn, { policy, isRetryable: isElectionFailure }));
    for (const chunk of upload.chunks) {
      await durably(() => {
        // A fresh header set per attempt: js.publish adds the msgID header to the one it is given.
        const h = natsHeaders();
        for (const [k, v] of chunk.headers) h.set(k, v[0] as string);
        return js.publish(chunk.subject, chunk.data, { msgID: chunk.msgID, headers: h });
      });
    }
    this.lastEnvelope = upload.manifest;
    await durably(() => js.publish(upload.manifest.subject, upload.manifest.bytes, { msgID: upload.updateId }));
    return upload.updateId;
  }

  /** Publishes raw bytes on a manifest subject. */
  async sendGarbage(subject: string, bytes: Uint8Array): Promise<void> {
    await this.nc.jetstream().publish(subject, bytes);
  }

  /**
   * Runs `fn` while listening to every verdict published in `federation`; `heard` holds the update
   * id of each that verifies with the coordinator's key, `unverifiable: <reason>` for the rest.
   */
  async hearingVerdicts<T>(federation: string, fn: (heard: readonly string[]) => Promise<T>): Promise<T> {
    const heard: string[] = [];
    const sub = this.nc.subscribe(`trib.${federation}.verdict.*`, {
      callback: (_err, msg) => {
        const opened = openVerdict(msg.data, this.coordinatorKey);
        heard.push(opened.ok ? opened.status.updateId : `unverifiable: ${opened.refusal.reason}`);
      },
    });
    try {
      await this.nc.flush();
      return await fn(heard);
    } finally {
      sub.unsubscribe();
    }
  }

  /**
   * The verdict on `updateId`; rejects on a message that does not verify with the coordinator's
   * key, after `timeoutMs`, or at once when `signal` aborts (its timer cleared with it).
   */
  verdict(federation: string, site: string, updateId: string, timeoutMs = 20_000, signal?: AbortSignal): Promise<UpdateStatus__Output> {
    const sub = this.nc.subscribe(subjects.verdict(federation, site));
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        sub.unsubscribe();
        reject(new Error(`verdict wait for ${updateId} cancelled`));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        sub.unsubscribe();
        reject(new Error(`no verdict for ${updateId}`));
      }, timeoutMs);
      if (signal?.aborted === true) onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      void (async () => {
        for await (const m of sub) {
          const opened = openVerdict(m.data, this.coordinatorKey);
          if (opened.ok && opened.status.updateId !== updateId) continue;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          sub.unsubscribe();
          if (opened.ok) resolve(opened.status);
          else reject(new Error(`unverifiable verdict: ${opened.refusal.reason} ${opened.refusal.message}`));
        }
      })();
    });
  }

  async close(): Promise<void> {
    await this.nc.drain();
  }
}
