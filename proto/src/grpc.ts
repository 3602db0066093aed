import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { signCall } from './callauth.js';
import { sha256Hex } from './encoding.js';
import { Reason, TributaryError } from './errors.js';
import type { ProtoGrpcType } from './generated/tributary.js';
import type { AdminServiceDefinition } from './generated/tributary/v1/AdminService.js';
import type { SiteServiceDefinition } from './generated/tributary/v1/SiteService.js';
import type { SigningKey } from './keys.js';
import { PROTO_LOADER_OPTIONS, PROTO_PATH } from './schema.js';

export { PROTO_LOADER_OPTIONS, PROTO_PATH } from './schema.js';

export type ServiceName = 'SiteService' | 'AdminService';
export type ServiceDefinitionOf<S extends ServiceName> = S extends 'SiteService' ? SiteServiceDefinition : AdminServiceDefinition;

// proto-loader's method definitions are untyped at this level; callers get typed results.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyMethodDefinition = protoLoader.MethodDefinition<any, any, any, any>;
type MethodTable = Record<string, AnyMethodDefinition>;
/** A call ready to go: its path, definition, serialised request and signed metadata. */
interface PreparedCall {
  path: string;
  def: AnyMethodDefinition;
  bytes: Buffer;
  metadata: grpc.Metadata;
}

let cachedPackageDefinition: protoLoader.PackageDefinition | undefined;
let cachedPackage: ProtoGrpcType | undefined;
const cachedServices = new Map<ServiceName, MethodTable>();

/** The proto-loader package definition of tributary.proto (e.g. for @grpc/reflection), loaded once. */
export function packageDefinition(): protoLoader.PackageDefinition {
  cachedPackageDefinition ??= protoLoader.loadSync(PROTO_PATH, { ...PROTO_LOADER_OPTIONS });
  return cachedPackageDefinition;
}

/** The loaded gRPC package (`.tributary.v1.SiteService`, message types, ...), loaded once. */
export function loadTributaryPackage(): ProtoGrpcType {
  cachedPackage ??= grpc.loadPackageDefinition(packageDefinition()) as unknown as ProtoGrpcType;
  return cachedPackage;
}

/** "/tributary.v1.<service>/<method>" */
export function methodPath(service: ServiceName, method: string): string {
  return `/tributary.v1.${service}/${method}`;
}

function rawService(service: ServiceName): MethodTable {
  const def = packageDefinition()[`tributary.v1.${service}`];
  if (def === undefined) throw TributaryError.internal(`service ${service} missing from ${PROTO_PATH}`);
  return def as unknown as MethodTable;
}

const REQUEST_DIGEST = Symbol('tributary.requestDigest');

/**
 * The service definition for `grpc.Server.addService`. Each decoded request carries the SHA-256
 * of its bytes exactly as received (see requestDigestOf), which call signatures cover.
 */
export function serviceDefinition<S extends ServiceName>(service: S): ServiceDefinitionOf<S> {
  let wrapped = cachedServices.get(service);
  if (wrapped === undefined) {
    wrapped = {};
    for (const [name, def] of Object.entries(rawService(service))) {
      const deserialize = def.requestDeserialize;
      wrapped[name] = {
        ...def,
        requestDeserialize: (bytes: Buffer): unknown => {
          const request: unknown = deserialize(bytes);
          if (typeof request === 'object' && request !== null) {
            Object.defineProperty(request, REQUEST_DIGEST, { value: sha256Hex(bytes), enumerable: false });
          }
          return request;
        },
      };
    }
    cachedServices.set(service, wrapped);
  }
  return wrapped as unknown as ServiceDefinitionOf<S>;
}

/** Hex SHA-256 of a request's bytes as received, for requests decoded by serviceDefinition(). */
export function requestDigestOf(request: object): string | undefined {
  const digest: unknown = (request as Record<symbol, unknown>)[REQUEST_DIGEST];
  return typeof digest === 'string' ? digest : undefined;
}

export interface RpcClientOptions {
  /** host:port */
  address: string;
  key: SigningKey;
  service: ServiceName;
  /** @default insecure (plaintext) */
  credentials?: grpc.ChannelCredentials;
  /** @default 32 MiB */
  maxReceiveMessageBytes?: number;
}

export interface UnaryCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface StreamCallOptions {
  signal?: AbortSignal;
}

const DEFAULT_MAX_RECEIVE_BYTES = 32 * 1024 * 1024;
const identity = (bytes: Buffer): Buffer => bytes;
const ignore = (): void => {};

/** Signed gRPC calls to one service; errors surface as TributaryError. */
export class RpcClient {
  readonly service: ServiceName;
  private readonly key: SigningKey;
  private readonly client: grpc.Client;

  constructor(opts: RpcClientOptions) {
    this.service = opts.service;
    this.key = opts.key;
    this.client = new grpc.Client(opts.address, opts.credentials ?? grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': opts.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE_BYTES,
    });
  }

  unary<Req, Res>(method: string, request: Req, opts: UnaryCallOptions = {}): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const { signal } = opts;
      if (signal?.aborted === true) {
        reject(TributaryError.cancelled(`${method} cancelled`));
        return;
      }
      let prepared: PreparedCall;
      try {
        prepared = this.prepare(method, request, false);
      } catch (err) {
        reject(TributaryError.from(err));
        return;
      }
      const callOptions: grpc.CallOptions = {};
      if (opts.timeoutMs !== undefined) callOptions.deadline = Date.now() + opts.timeoutMs;
      const deserialize = prepared.def.responseDeserialize as (bytes: Buffer) => Res;
      const onAbort = (): void => call.cancel();
      const call = this.client.makeUnaryRequest<Buffer, Res>(
        prepared.path,
        identity,
        deserialize,
        prepared.bytes,
        prepared.metadata,
        callOptions,
        (err, value) => {
          signal?.removeEventListener('abort', onAbort);
          if (err !== null) reject(TributaryError.from(err));
          else if (value === undefined) reject(TributaryError.internal(`${method}: empty response`));
          else resolve(value);
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** A server stream as an async iterable; breaking out of the loop or aborting cancels the call. */
  serverStream<Req, Res>(method: string, request: Req, opts: StreamCallOptions = {}): AsyncIterable<Res> {
    return this.openStream<Req, Res>(method, request, opts.signal);
  }

  close(): void {
    this.client.close();
  }

  private async *openStream<Req, Res>(method: string, request: Req, signal: AbortSignal | undefined): AsyncGenerator<Res, void, undefined> {
    if (signal?.aborted === true) throw TributaryError.cancelled(`${method} cancelled`);
    let prepared: PreparedCall;
    try {
      prepared = this.prepare(method, request, true);
    } catch (err) {
      throw TributaryError.from(err);
    }
    const deserialize = prepared.def.responseDeserialize as (bytes: Buffer) => Res;
    const call = this.client.makeServerStreamRequest<Buffer, Res>(prepared.path, identity, deserialize, prepared.bytes, prepared.metadata, {});
    // grpc-js emits 'error' (e.g. CANCELLED after cancel()) even when nobody listens any more.
    call.on('error', ignore);
    const onAbort = (): void => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const message of call as AsyncIterable<Res>) yield message;
    } catch (err) {
      throw TributaryError.from(err);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      call.cancel();
    }
  }

  private prepare(method: string, request: unknown, responseStream: boolean): PreparedCall {
    const table = rawService(this.service);
    const def = Object.hasOwn(table, method) ? table[method] : undefined;
    if (def === undefined || def.requestStream || def.responseStream !== responseStream) {
      throw TributaryError.invalidArgument(`${this.service} has no ${responseStream ? 'server-streaming' : 'unary'} method ${method}`);
    }
    let serialized: Uint8Array;
    try {
      serialized = def.requestSerialize(request) as Uint8Array;
    } catch (err) {
      throw TributaryError.of(
        Reason.INVALID_ARGUMENT,
        `cannot encode the ${method} request: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    const bytes = Buffer.isBuffer(serialized) ? serialized : Buffer.from(serialized.buffer, serialized.byteOffset, serialized.byteLength);
    const path = methodPath(this.service, method);
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(signCall(this.key, path, bytes))) metadata.set(k, v);
    return { path, def, bytes, metadata };
  }
}
