import * as grpc from '@grpc/grpc-js';
import { Reason, TributaryError, grpcStatusOf, requestDigestOf, serviceDefinition, REASON_TRAILER } from '@tributary/proto';
import type { AdminServiceHandlers, ServiceName, SiteServiceHandlers } from '@tributary/proto';
import type { Logger } from 'pino';
import type { CallAuthenticator } from '../auth/authenticator.js';
import type { Principal } from '../auth/principal.js';
import type { CoordinatorMetrics } from '../observability/metrics.js';

/** What a handler knows about its call. */
export interface CallContext {
  readonly principal: Principal;
  /** Fires when the client cancels, the deadline passes or the server shuts down. */
  readonly signal: AbortSignal;
  readonly method: string;
}

/** A unary method: a plain typed function, in the connect-es style. */
export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;
/** A server-streaming method: an async iterable; the stream ends when it does. */
export type StreamHandler<Req, Res> = (request: Req, ctx: CallContext) => AsyncIterable<Res>;

/** The grpc-js handler interfaces generated from tributary.proto, by service. */
interface GeneratedHandlers {
  SiteService: SiteServiceHandlers;
  AdminService: AdminServiceHandlers;
}

/** Our handler for a generated grpc-js handler type: decoded request in, response (or stream of them) out. */
type HandlerFor<H> =
  H extends grpc.handleServerStreamingCall<infer Req, infer Res>
    ? StreamHandler<Req, Res>
    : H extends grpc.handleUnaryCall<infer Req, infer Res>
      ? UnaryHandler<Req, Res>
      : never;

/**
 * Every method of a service and nothing else, typed from the generated definitions: a missing
 * or misspelt method fails the type check (the generated interfaces' index signature is dropped).
 */
export type ServiceHandlers<S extends ServiceName> = {
  [M in keyof GeneratedHandlers[S] as M extends string ? (string extends M ? never : M) : never]: HandlerFor<GeneratedHandlers[S][M]>;
};

/**
 * The untyped view implement() dispatches through. Method syntax keeps the request parameter
 * bivariant, so every typed map fits it without a cast; the definition and the handler types
 * come from the same .proto, so the request decoded for a method is that method's request type.
 */
interface HandlerTable {
  readonly [method: string]: Handler | undefined;
}
type Handler = { handle(request: object, ctx: CallContext): Promise<object> | AsyncIterable<object> }['handle'];

interface Deps {
  auth: CallAuthenticator;
  logger: Logger;
  metrics: CoordinatorMetrics;
  shutdown: AbortSignal;
}

/**
 * Turns a service's typed handlers into a grpc-js implementation: every call is authenticated
 * first, errors become a status code with a one-line message and the reason in the
 * `x-tributary-reason` trailer, never a stack trace.
 */
export function implement<S extends ServiceName>(service: S, handlers: ServiceHandlers<S> & HandlerTable, deps: Deps): grpc.UntypedServiceImplementation {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(serviceDefinition(service))) {
    const path = method.path;
    const handler = Object.hasOwn(handlers, name) ? handlers[name] : undefined;
    if (method.responseStream) {
      impl[name] = (call: grpc.ServerWritableStream<object, object>) => {
        void serveStream(call, path, handler, deps);
      };
    } else {
      impl[name] = (call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
        void serveUnary(call, callback, path, handler, deps);
      };
    }
  }
  return impl;
}

async function context(call: grpc.ServerUnaryCall<object, object> | grpc.ServerWritableStream<object, object>, path: string, deps: Deps): Promise<{ ctx: CallContext; done: () => void }> {
  const controller = new AbortController();
  const abort = () => controller.abort();
  call.on('cancelled', abort);
  deps.shutdown.addEventListener('abort', abort);
  const done = () => deps.shutdown.removeEventListener('abort', abort);
  try {
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(call.metadata.getMap())) headers[k] = typeof v === 'string' ? v : undefined;
    const digest = requestDigestOf(call.request) ?? '';
    const principal = await deps.auth.authenticate(path, headers, digest, call.request);
    return { ctx: { principal, signal: controller.signal, method: path }, done };
  } catch (err) {
    done();
    const e = TributaryError.from(err);
    deps.metrics.callsRefused.inc({ reason: e.reason });
    deps.logger.warn({ method: path, reason: e.reason, peer: call.getPeer() }, `call refused: ${e.message}`);
    throw e;
  }
}

async function serveUnary(
  call: grpc.ServerUnaryCall<object, object>,
  callback: grpc.sendUnaryData<object>,
  path: string,
  handler: Handler | undefined,
  deps: Deps,
): Promise<void> {
  let done = () => {};
  try {
    if (!handler) throw unimplemented(path);
    const c = await context(call, path, deps);
    done = c.done;
    const result = await handler(call.request, c.ctx);
    callback(null, result);
  } catch (err) {
    callback(toServiceError(err, path, deps));
  } finally {
    done();
  }
}

async function serveStream(call: grpc.ServerWritableStream<object, object>, path: string, handler: Handler | undefined, deps: Deps): Promise<void> {
  let done = () => {};
  try {
    if (!handler) throw unimplemented(path);
    const c = await context(call, path, deps);
    done = c.done;
    const items = handler(call.request, c.ctx);
    if (!isAsyncIterable(items)) throw TributaryError.internal(`${path}: the handler returned no stream`);
    for await (const item of items) {
      if (c.ctx.signal.aborted) break;
      if (!call.write(item)) {
        await new Promise<void>((resolve) => {
          const resume = () => {
            call.off('drain', resume);
            c.ctx.signal.removeEventListener('abort', resume);
            resolve();
          };
          call.on('drain', resume);
          c.ctx.signal.addEventListener('abort', resume);
        });
      }
    }
    if (!call.cancelled) call.end();
  } catch (err) {
    if (!call.cancelled) call.emit('error', toServiceError(err, path, deps));
  } finally {
    done();
  }
}

function toServiceError(err: unknown, path: string, deps: Deps): Partial<grpc.StatusObject> {
  const e = TributaryError.from(err);
  // Authentication failures are counted where they happen; authorisation failures here.
  if (e.code === 'PERMISSION_DENIED') deps.metrics.callsRefused.inc({ reason: e.reason });
  if (e.code === 'INTERNAL' || e.code === 'UNKNOWN') {
    deps.logger.error({ method: path, err: err instanceof Error ? err.stack : String(err) }, 'call failed');
  } else {
    deps.logger.debug({ method: path, code: e.code, reason: e.reason }, e.message);
  }
  const metadata = new grpc.Metadata();
  metadata.set(REASON_TRAILER, e.reason);
  const message = e.code === 'INTERNAL' || e.code === 'UNKNOWN' ? 'internal error; see the coordinator log' : e.message;
  return { code: grpcStatusOf(e.code), details: message.split('\n')[0] ?? '', metadata };
}

function unimplemented(path: string): TributaryError {
  return TributaryError.of(Reason.UNIMPLEMENTED, `${path} is not implemented`);
}

function isAsyncIterable(value: object): value is AsyncIterable<object> {
  return Symbol.asyncIterator in value;
}
