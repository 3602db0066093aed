import * as grpc from '@grpc/grpc-js';
import { TributaryError, grpcStatusOf, requestDigestOf, REASON_TRAILER } from '@tributary/proto';
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

export type UnaryHandler = (request: never, ctx: CallContext) => Promise<object>;
export type StreamHandler = (request: never, ctx: CallContext) => AsyncIterable<object>;
export type Handlers = Record<string, UnaryHandler | StreamHandler>;

export interface ServiceBinding {
  definition: grpc.ServiceDefinition;
  unary: Record<string, UnaryHandler>;
  streams: Record<string, StreamHandler>;
}

/**
 * Turns typed handlers into a grpc-js implementation: every call is authenticated first,
 * errors become a status code with a one-line message and the reason in the
 * `x-tributary-reason` trailer, never a stack trace.
 */
export function implement(
  binding: ServiceBinding,
  deps: { auth: CallAuthenticator; logger: Logger; metrics: CoordinatorMetrics; shutdown: AbortSignal },
): grpc.UntypedServiceImplementation {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(binding.definition)) {
    const path = method.path;
    if (method.responseStream) {
      const handler = binding.streams[name];
      impl[name] = (call: grpc.ServerWritableStream<object, object>) => {
        void serveStream(call, path, handler, deps);
      };
    } else {
      const handler = binding.unary[name];
      impl[name] = (call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
        void serveUnary(call, callback, path, handler, deps);
      };
    }
  }
  return impl;
}

type Deps = Parameters<typeof implement>[1];

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
  handler: UnaryHandler | undefined,
  deps: Deps,
): Promise<void> {
  let done = () => {};
  try {
    if (!handler) throw unimplemented(path);
    const c = await context(call, path, deps);
    done = c.done;
    const result = await handler(call.request as never, c.ctx);
    callback(null, result);
  } catch (err) {
    callback(toServiceError(err, path, deps));
  } finally {
    done();
  }
}

async function serveStream(call: grpc.ServerWritableStream<object, object>, path: string, handler: StreamHandler | undefined, deps: Deps): Promise<void> {
  let done = () => {};
  try {
    if (!handler) throw unimplemented(path);
    const c = await context(call, path, deps);
    done = c.done;
    for await (const item of handler(call.request as never, c.ctx)) {
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
  return new TributaryError({ code: 'UNIMPLEMENTED', reason: 'UNIMPLEMENTED', message: `${path} is not implemented` });
}
