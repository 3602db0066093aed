import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Reason, TributaryError } from './errors.js';
import { preEncodedOf } from './model-chunk.js';
import type { ProtoGrpcType } from './generated/tributary.js';
import type { AdminServiceDefinition } from './generated/tributary/v1/AdminService.js';
import type { SiteServiceDefinition } from './generated/tributary/v1/SiteService.js';
import { PROTO_LOADER_OPTIONS, PROTO_PATH } from './schema.js';

export { PROTO_LOADER_OPTIONS, PROTO_PATH } from './schema.js';

export type ServiceName = 'SiteService' | 'AdminService';
export type ServiceDefinitionOf<S extends ServiceName> = S extends 'SiteService' ? SiteServiceDefinition : AdminServiceDefinition;

// proto-loader's method definitions are untyped at this level; callers get typed results.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type MethodDefinition = protoLoader.MethodDefinition<any, any, any, any>;
type MethodTable = Record<string, MethodDefinition>;

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

/** The methods of a service as proto-loader defines them (the RPC client serialises with these). */
export function serviceMethods(service: ServiceName): MethodTable {
  const def = packageDefinition()[`tributary.v1.${service}`];
  if (def === undefined) throw TributaryError.internal(`service ${service} missing from ${PROTO_PATH}`);
  return def as unknown as MethodTable;
}

/**
 * The service definition for `grpc.Server.addService`. Requests are NOT decoded: each handler
 * receives the request bytes exactly as received (a Buffer), so the server can check the call's
 * signature over them before it spends anything on decoding (see decodeRequest).
 */
export function serviceDefinition<S extends ServiceName>(service: S): ServiceDefinitionOf<S> {
  let wrapped = cachedServices.get(service);
  if (wrapped === undefined) {
    wrapped = {};
    for (const [name, def] of Object.entries(serviceMethods(service))) {
      const serialize = def.responseSerialize.bind(def);
      // A response that carries its own encoding (a model chunk read straight into it) goes out as is.
      wrapped[name] = { ...def, requestDeserialize: (bytes: Buffer): Buffer => bytes, responseSerialize: (value: object): Buffer => preEncodedOf(value) ?? serialize(value) };
    }
    cachedServices.set(service, wrapped);
  }
  return wrapped as unknown as ServiceDefinitionOf<S>;
}

/**
 * Decodes the request bytes of `service`'s `method`; INVALID_ARGUMENT / MALFORMED_REQUEST when
 * they are not a valid message of its request type.
 */
export function decodeRequest(service: ServiceName, method: string, bytes: Buffer): object {
  const def = serviceMethods(service)[method];
  if (def === undefined) throw TributaryError.internal(`${service} has no method ${method}`);
  let request: unknown;
  try {
    request = def.requestDeserialize(bytes);
  } catch {
    throw TributaryError.of(Reason.MALFORMED_REQUEST, `the ${method} request is not a valid ${service} message (${bytes.byteLength} bytes)`);
  }
  if (typeof request !== 'object' || request === null) throw TributaryError.of(Reason.MALFORMED_REQUEST, `the ${method} request is empty`);
  return request;
}
