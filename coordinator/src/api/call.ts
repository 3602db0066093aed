import * as grpc from '@grpc/grpc-js';
import { Reason, TributaryError, decodeRequest, grpcStatusOf, isTributaryError, quoted, serviceDefinition, statusMessageOf, REASON_TRAILER } from '@tributary/proto';
import type { AdminServiceHandlers, ServiceName, SiteServiceHandlers } from '@tributary/proto';
import type { Logger } from 'pino';
import type { CallAudit } from '../audit/call-audit.js';
import { knownCallerOf, withKnownCaller, type CallAuthenticator } from '../auth/authenticator.js';
import { peerAddressOf, type CallRateLimits } from '../auth/rate-limits.js';
import type { Principal } from '../auth/principal.js';
import type { CoordinatorMetrics } from '../observability/metrics.js';
import { whenSentOf } from './download-budget.js';

/** What a handler knows about its call. */
export interface CallContext {
  readonly principal: Principal;
  /** Fires when the client cancels, the deadline passes or the server shuts down. */
  readonly signal: AbortSignal;
  readonly method: string;
  /** Says what the call changed, for its audit entry (the last word counts). */
  readonly auditDetail?: (detail: string) => void;
}

/** A unary method: a plain typed function, in the connect-es style. */
export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;
/** A server-streaming method: an async iterable; the stream ends when it does. */
export type StreamHandler<Req, Res> = (request: Req, ctx: CallContext) => AsyncIterable<Res>;
/** A client-streaming method: the decoded messages in order (the first is the one the signature covers). */
export type ClientStreamHandler<Req, Res> = (requests: AsyncIterable<Req>, ctx: CallContext) => Promise<Res>;

/** The grpc-js handler interfaces generated from tributary.proto, by service. */
interface GeneratedHandlers {
  SiteService: SiteServiceHandlers;
  AdminService: AdminServiceHandlers;
}

/** Our handler for a generated grpc-js handler type: decoded request in, response (or stream of them) out. */
type HandlerFor<H> =
  H extends grpc.handleServerStreamingCall<infer Req, infer Res>
    ? StreamHandler<Req, Res>
    : H extends grpc.handleClientStreamingCall<infer Req, infer Res>
      ? ClientStreamHandler<Req, Res>
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
  /**
   * Checks an authenticated call against the privilege its method declares, before its handler
   * runs (AdminService); throws PERMISSION_DENIED with what the caller lacked.
   */
  authorize?: (method: string, principal: Principal, request: object) => Promise<void>;
  /** Records audited calls before they are answered. */
  audit: CallAudit;
  limits: CallRateLimits;
  /** Told of every authenticated caller, before authorisation (SiteService: the site's last seen). */
  authenticated?: (principal: Principal) => void;
  logger: Logger;
  metrics: CoordinatorMetrics;
  shutdown: AbortSignal;
}

/**
 * Turns a service's typed handlers into a grpc-js implementation: every call is charged to its
 * peer's rate limit and authenticated before its body is decoded, errors become a status code
 * with a one-line message and the reason in the `x-tributary-reason` trailer, never a stack trace.
 */
export function implement<S extends ServiceName>(service: S, handlers: ServiceHandlers<S> & HandlerTable, deps: Deps): grpc.UntypedServiceImplementation {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(serviceDefinition(service))) {
    const target: Target = { service, name, path: method.path, handler: Object.hasOwn(handlers, name) ? handlers[name] : undefined };
    if (method.requestStream && !method.responseStream) {
      impl[name] = (call: grpc.ServerReadableStream<Buffer, object>, callback: grpc.sendUnaryData<object>) => {
        void serveClientStream(call, callback, target, deps);
      };
    } else if (method.responseStream) {
      impl[name] = (call: grpc.ServerWritableStream<Buffer, object>) => {
        void serveStream(call, target, deps);
      };
    } else {
      impl[name] = (call: grpc.ServerUnaryCall<Buffer, object>, callback: grpc.sendUnaryData<object>) => {
        void serveUnary(call, callback, target, deps);
      };
    }
  }
  return impl;
}

/** The method a call is for, and our handler of it. */
interface Target {
  service: ServiceName;
  name: string;
  path: string;
  handler: Handler | undefined;
}

type AnyCall = grpc.ServerUnaryCall<Buffer, object> | grpc.ServerWritableStream<Buffer, object> | grpc.ServerReadableStream<Buffer, object>;

async function context(call: AnyCall, target: Target, body: Buffer, deps: Deps): Promise<{ ctx: CallContext; request: object; done: () => void; detail: () => string | undefined }> {
  const controller = new AbortController();
  const abort = () => controller.abort();
  (call as grpc.ServerUnaryCall<Buffer, object>).on('cancelled', abort);
  deps.shutdown.addEventListener('abort', abort);
  const done = () => deps.shutdown.removeEventListener('abort', abort);
  let authenticated: { principal: Principal; request: object };
  try {
    deps.limits.chargePeer(peerAddressOf(call.getPeer()));
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(call.metadata.getMap())) headers[k] = typeof v === 'string' ? v : undefined;
    const { principal, request } = await deps.auth.authenticate({
      method: target.path,
      headers,
      body,
      decode: (bytes) => decodeRequest(target.service, target.name, bytes),
    });
    authenticated = { principal, request };
  } catch (err) {
    done();
    const e = TributaryError.from(err);
    // The caller may learn only a generic reason; the log and the metric keep the precise one.
    const precise = e.reason === Reason.AUTH_FAILED && isTributaryError(e.cause) ? e.cause : e;
    deps.metrics.callsRefused.inc({ reason: precise.reason });
    deps.logger.warn({ method: target.path, reason: precise.reason, peer: call.getPeer() }, `call refused: ${precise.message}`);
    throw e;
  }
  // Authorisation (counted with the other refusals in toServiceError).
  const { principal } = authenticated;
  deps.authenticated?.(principal);
  await deps.authorize?.(target.name, principal, authenticated.request).catch((err: unknown) => {
    done();
    // A denied call is audited under the caller that made it.
    throw withKnownCaller(err, { keyId: principal.keyId, ...(principal.role === 'admin' ? { name: principal.name } : principal.role === 'site' ? { name: principal.site.name } : {}) });
  });
  let detail: string | undefined;
  const auditDetail = (text: string) => {
    detail = text;
  };
  return { ctx: { principal: authenticated.principal, signal: controller.signal, method: target.path, auditDetail }, request: authenticated.request, done, detail: () => detail };
}

async function serveUnary(call: grpc.ServerUnaryCall<Buffer, object>, callback: grpc.sendUnaryData<object>, target: Target, deps: Deps): Promise<void> {
  let c: Authenticated | undefined;
  let outcome: Outcome;
  try {
    if (!target.handler) throw unimplemented(target.path);
    c = await context(call, target, call.request, deps);
    outcome = { result: (await target.handler(c.request, c.ctx)) as object };
  } catch (err) {
    outcome = { error: err };
  } finally {
    c?.done();
  }
  answer(callback, await recorded(call, target, deps, c, outcome), target.path, deps);
}

async function serveClientStream(call: grpc.ServerReadableStream<Buffer, object>, callback: grpc.sendUnaryData<object>, target: Target, deps: Deps): Promise<void> {
  let c: Authenticated | undefined;
  let outcome: Outcome;
  const messages = (call as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  try {
    if (!target.handler) throw unimplemented(target.path);
    const first = await messages.next();
    if (first.done === true) throw TributaryError.of(Reason.MALFORMED_REQUEST, `${target.path} needs at least one message`);
    const authenticated = await context(call, target, first.value, deps);
    c = authenticated;
    async function* decoded(): AsyncIterable<object> {
      yield authenticated.request;
      for (;;) {
        const next = await messages.next();
        if (next.done === true) return;
        yield decodeRequest(target.service, target.name, next.value);
      }
    }
    outcome = { result: (await target.handler(decoded() as unknown as object, authenticated.ctx)) as object };
  } catch (err) {
    outcome = { error: err };
  } finally {
    c?.done();
  }
  answer(callback, await recorded(call, target, deps, c, outcome), target.path, deps);
}

async function serveStream(call: grpc.ServerWritableStream<Buffer, object>, target: Target, deps: Deps): Promise<void> {
  let c: Authenticated | undefined;
  const path = target.path;
  try {
    if (!target.handler) throw unimplemented(path);
    const authenticated = await context(call, target, call.request, deps);
    c = authenticated;
    const items = target.handler(authenticated.request, authenticated.ctx);
    if (!isAsyncIterable(items)) throw TributaryError.internal(`${path}: the handler returned no stream`);
    for await (const item of items) {
      if (authenticated.ctx.signal.aborted) break;
      // A stream that bounds its unsent bytes learns when each item has left.
      const sent = whenSentOf(item);
      if (!(sent === undefined ? call.write(item) : call.write(item, () => sent()))) {
        await new Promise<void>((resolve) => {
          const resume = () => {
            call.off('drain', resume);
            authenticated.ctx.signal.removeEventListener('abort', resume);
            resolve();
          };
          call.on('drain', resume);
          authenticated.ctx.signal.addEventListener('abort', resume);
        });
      }
    }
    const ended = await recorded(call, target, deps, c, { result: {} });
    if (call.cancelled) return;
    if ('error' in ended) call.emit('error', toServiceError(ended.error, path, deps));
    else call.end();
  } catch (err) {
    const ended = await recorded(call, target, deps, c, { error: err });
    if (!call.cancelled && 'error' in ended) call.emit('error', toServiceError(ended.error, path, deps));
  } finally {
    c?.done();
  }
}

/** How a call ended: its response, or what it failed with. */
type Outcome = { readonly result: object } | { readonly error: unknown };
type Authenticated = Awaited<ReturnType<typeof context>>;

/**
 * Records the call's end in the audit log when it is audited, before the caller is answered. An
 * entry that cannot be stored turns the answer into AUDIT_UNAVAILABLE: no caller is told a
 * state-changing call succeeded without its entry on disk.
 */
async function recorded(call: AnyCall, target: Target, deps: Deps, c: Authenticated | undefined, outcome: Outcome): Promise<Outcome> {
  const error = 'error' in outcome ? outcome.error : undefined;
  const detail = c?.detail();
  try {
    await deps.audit.ended({
      service: target.service,
      method: target.name,
      path: target.path,
      peer: call.getPeer(),
      ...(c === undefined ? {} : { principal: c.ctx.principal, request: c.request }),
      ...(detail === undefined ? {} : { detail }),
      ...(error === undefined ? {} : { error, knownCaller: knownCallerOf(error) }),
    });
    return outcome;
  } catch (err) {
    return { error: err };
  }
}

function answer(callback: grpc.sendUnaryData<object>, outcome: Outcome, path: string, deps: Deps): void {
  if ('error' in outcome) callback(toServiceError(outcome.error, path, deps));
  else callback(null, outcome.result);
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
  return { code: grpcStatusOf(e.code), details: statusMessageOf(message), metadata };
}

function unimplemented(path: string): TributaryError {
  return TributaryError.of(Reason.UNIMPLEMENTED, `${path} is not implemented`);
}

function isAsyncIterable(value: object): value is AsyncIterable<object> {
  return Symbol.asyncIterator in value;
}

/**
 * Makes calls of methods no service registers answer UNIMPLEMENTED with the reason trailer, like
 * every other failed call (grpc-js answers them itself, without trailers). grpc-js offers no hook
 * for unknown methods, so this falls back in its method table; returns false (and changes
 * nothing) when that table is not where this grpc-js keeps it.
 */
export function answerUnknownMethods(server: grpc.Server): boolean {
  const table = (server as unknown as { handlers?: unknown }).handlers;
  if (!(table instanceof Map)) return false;
  const registered = table as Map<string, unknown>;
  const lookup = registered.get.bind(registered);
  const unknownMethod = (path: string) => ({
    func: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const metadata = new grpc.Metadata();
      metadata.set(REASON_TRAILER, Reason.UNIMPLEMENTED);
      call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: statusMessageOf(`${quoted(path)} is not a method of this coordinator`), metadata });
    },
    serialize: (b: Buffer) => b,
    deserialize: (b: Buffer) => b,
    type: 'bidi',
    path,
  });
  registered.get = (path: string) => lookup(path) ?? unknownMethod(path);
  return true;
}

/**
 * Gives the transport's own refusals the reason trailer every other failed call carries. grpc-js
 * refuses a message over the receive limit from its length prefix, before reading it (that is the
 * point: no memory for an oversize message), and answers RESOURCE_EXHAUSTED itself with no
 * metadata; the innermost call object it answers through is the one each interceptor is handed,
 * so this wraps that object's `sendStatus` and adds `MESSAGE_TOO_LARGE` to a status that carries
 * no reason. Statuses from handlers always carry one and pass unchanged.
 */
export const reasonForTransportRefusals: grpc.ServerInterceptor = (_method, call) => {
  type Status = Pick<grpc.StatusObject, 'code' | 'details'> & { metadata?: grpc.Metadata | null };
  const inner = call as unknown as { sendStatus?: (status: Status) => void };
  const send = inner.sendStatus?.bind(call);
  if (send === undefined) return new grpc.ServerInterceptingCall(call);
  inner.sendStatus = (status) => {
    const reasoned = status.metadata?.get(REASON_TRAILER).length ?? 0;
    if (status.code !== grpc.status.RESOURCE_EXHAUSTED || reasoned > 0) return send(status);
    const metadata = status.metadata?.clone() ?? new grpc.Metadata();
    metadata.set(REASON_TRAILER, Reason.MESSAGE_TOO_LARGE);
    send({ ...status, details: statusMessageOf(status.details), metadata });
  };
  return new grpc.ServerInterceptingCall(call);
};
