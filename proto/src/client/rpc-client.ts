import * as grpc from '@grpc/grpc-js';
import { signCall } from '../callauth.js';
import { Reason, TributaryError } from '../errors.js';
import { methodPath, serviceMethods, type MethodDefinition, type ServiceName } from '../grpc.js';
import type { Signer, SigningKey } from '../keys.js';
import { abortError } from './abort.js';

export interface RpcClientOptions {
  /** host:port, or a gRPC target such as `dns:///host:port`. */
  address: string;
  /** Signs every call (per-call auth metadata: key id, timestamp, nonce, signature). */
  key: SigningKey;
  /** How the calls are signed: `signBytes` (tweetnacl) or `signBytesNative` (node:crypto); the same signatures. @default signBytes */
  signer?: Signer;
  service: ServiceName;
  /** @default insecure (plaintext) */
  credentials?: grpc.ChannelCredentials;
  /** @default 32 MiB */
  maxReceiveMessageBytes?: number;
}

/** Options of one call, unary or streaming. */
export interface CallOptions {
  /** Cancels the call; it then fails with the signal's TributaryError reason, or CANCELLED. */
  signal?: AbortSignal;
  /** Deadline of the whole call (a stream's too), in ms from now: DEADLINE_EXCEEDED after it. @default none */
  timeoutMs?: number;
}

/** A call ready to go: its path, definition, serialised request and signed metadata. */
interface PreparedCall {
  path: string;
  def: MethodDefinition;
  bytes: Buffer;
  metadata: grpc.Metadata;
}

const DEFAULT_MAX_RECEIVE_BYTES = 32 * 1024 * 1024;
const identity = (bytes: Buffer): Buffer => bytes;
const ignore = (): void => {};

/** Longest wait between attempts to reconnect to an unreachable server. */
const MAX_RECONNECT_BACKOFF_MS = 5_000;

/**
 * Signed gRPC calls to one Tributary service (SiteService or AdminService), for sites and
 * operators alike: each call carries fresh auth metadata signed over its request bytes, honours
 * a deadline and an `AbortSignal`, and fails with a TributaryError whose reason comes from the
 * server's `x-tributary-reason` trailer.
 */
export class RpcClient {
  readonly service: ServiceName;
  private readonly key: SigningKey;
  private readonly signer: Signer | undefined;
  private readonly client: grpc.Client;

  constructor(opts: RpcClientOptions) {
    this.service = opts.service;
    this.key = opts.key;
    this.signer = opts.signer;
    this.client = new grpc.Client(opts.address, opts.credentials ?? grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': opts.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE_BYTES,
      // A coordinator back after a restart is reached within seconds, not after grpc-js's default 120 s backoff.
      'grpc.max_reconnect_backoff_ms': MAX_RECONNECT_BACKOFF_MS,
    });
  }

  unary<Req, Res>(method: string, request: Req, opts: CallOptions = {}): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const { signal } = opts;
      if (signal?.aborted === true) {
        reject(abortError(signal));
        return;
      }
      let prepared: PreparedCall;
      try {
        prepared = this.prepare(method, request, 'unary');
      } catch (err) {
        reject(TributaryError.from(err));
        return;
      }
      const deserialize = prepared.def.responseDeserialize as (bytes: Buffer) => Res;
      const onAbort = (): void => call.cancel();
      const call = this.client.makeUnaryRequest<Buffer, Res>(
        prepared.path,
        identity,
        deserialize,
        prepared.bytes,
        prepared.metadata,
        callOptionsOf(opts),
        (err, value) => {
          signal?.removeEventListener('abort', onAbort);
          if (err !== null) reject(signal?.aborted === true ? abortError(signal) : TributaryError.from(err));
          else if (value === undefined) reject(TributaryError.internal(`${method}: empty response`));
          else resolve(value);
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** A server stream as an async iterable; breaking out of the loop or aborting cancels the call. */
  serverStream<Req, Res>(method: string, request: Req, opts: CallOptions = {}): AsyncIterable<Res> {
    return this.openStream<Req, Res>(method, request, opts);
  }

  /**
   * A client-streaming call: `first` (the message the call's signature covers), then every
   * message of `rest` in order, with backpressure; resolves with the response.
   */
  async clientStream<Req, Res>(method: string, first: Req, rest: AsyncIterable<Req> | Iterable<Req>, opts: CallOptions = {}): Promise<Res> {
    const { signal } = opts;
    if (signal?.aborted === true) throw abortError(signal);
    let prepared: PreparedCall;
    try {
      prepared = this.prepare(method, first, 'client-streaming');
    } catch (err) {
      throw TributaryError.from(err);
    }
    const { def } = prepared;
    const deserialize = def.responseDeserialize as (bytes: Buffer) => Res;
    let call: grpc.ClientWritableStream<Buffer> | undefined;
    const response = new Promise<Res>((resolve, reject) => {
      call = this.client.makeClientStreamRequest<Buffer, Res>(prepared.path, identity, deserialize, prepared.metadata, callOptionsOf(opts), (err, value) => {
        if (err !== null) reject(signal?.aborted === true ? abortError(signal) : TributaryError.from(err));
        else if (value === undefined) reject(TributaryError.internal(`${method}: empty response`));
        else resolve(value);
      });
    });
    // The response settles the call; writes that fail because it ended early are not the story.
    response.catch(ignore);
    const stream = call as unknown as grpc.ClientWritableStream<Buffer>;
    stream.on('error', ignore);
    const onAbort = (): void => stream.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    let ended = false;
    const settled = response.then(
      () => undefined,
      () => undefined,
    );
    void settled.then(() => {
      ended = true;
    });
    try {
      stream.write(prepared.bytes);
      for await (const message of rest) {
        if (ended) break;
        if (!stream.write(encode(def, method, message))) {
          await new Promise<void>((resolve) => {
            const go = (): void => {
              stream.off('drain', go);
              resolve();
            };
            stream.on('drain', go);
            void settled.then(go);
          });
        }
      }
      stream.end();
      return await response;
    } catch (err) {
      stream.cancel();
      throw signal !== undefined && isAborted(signal) ? abortError(signal) : TributaryError.from(err);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  close(): void {
    this.client.close();
  }

  private async *openStream<Req, Res>(method: string, request: Req, opts: CallOptions): AsyncGenerator<Res, void, undefined> {
    const { signal } = opts;
    if (signal?.aborted === true) throw abortError(signal);
    let prepared: PreparedCall;
    try {
      prepared = this.prepare(method, request, 'server-streaming');
    } catch (err) {
      throw TributaryError.from(err);
    }
    const deserialize = prepared.def.responseDeserialize as (bytes: Buffer) => Res;
    const call = this.client.makeServerStreamRequest<Buffer, Res>(prepared.path, identity, deserialize, prepared.bytes, prepared.metadata, callOptionsOf(opts));
    // grpc-js emits 'error' (e.g. CANCELLED after cancel()) even when nobody listens any more.
    call.on('error', ignore);
    const onAbort = (): void => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const message of call as AsyncIterable<Res>) yield message;
    } catch (err) {
      // Read again: the check at the top narrowed `aborted` to false, but it may have changed.
      throw signal !== undefined && isAborted(signal) ? abortError(signal) : TributaryError.from(err);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      call.cancel();
    }
  }

  private prepare(method: string, request: unknown, kind: MethodKind): PreparedCall {
    const table = serviceMethods(this.service);
    const def = Object.hasOwn(table, method) ? table[method] : undefined;
    if (def === undefined || kindOf(def) !== kind) {
      throw TributaryError.invalidArgument(`${this.service} has no ${kind} method ${method}`);
    }
    const bytes = encode(def, method, request);
    const path = methodPath(this.service, method);
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(signCall(this.key, path, bytes, Date.now(), this.signer === undefined ? {} : { signer: this.signer }))) metadata.set(k, v);
    return { path, def, bytes, metadata };
  }
}

type MethodKind = 'unary' | 'server-streaming' | 'client-streaming';

function kindOf(def: MethodDefinition): MethodKind | 'bidi-streaming' {
  if (def.requestStream) return def.responseStream ? 'bidi-streaming' : 'client-streaming';
  return def.responseStream ? 'server-streaming' : 'unary';
}

function encode(def: MethodDefinition, method: string, request: unknown): Buffer {
  let serialized: Uint8Array;
  try {
    serialized = def.requestSerialize(request) as Uint8Array;
  } catch (err) {
    throw TributaryError.of(Reason.INVALID_ARGUMENT, `cannot encode the ${method} request: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return Buffer.isBuffer(serialized) ? serialized : Buffer.from(serialized.buffer, serialized.byteOffset, serialized.byteLength);
}

function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

function callOptionsOf(opts: CallOptions): grpc.CallOptions {
  return opts.timeoutMs === undefined ? {} : { deadline: Date.now() + opts.timeoutMs };
}
