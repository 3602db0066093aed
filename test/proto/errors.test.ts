import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { REASON_TRAILER, Reason, TributaryError, codeOfGrpcStatus, grpcStatusOf, isTributaryError, type Code } from '@tributary/proto';

describe('errors', () => {
  it('maps codes to gRPC statuses and back', () => {
    const pairs: [Code, number][] = [
      ['OK', grpc.status.OK],
      ['CANCELLED', grpc.status.CANCELLED],
      ['INVALID_ARGUMENT', grpc.status.INVALID_ARGUMENT],
      ['NOT_FOUND', grpc.status.NOT_FOUND],
      ['PERMISSION_DENIED', grpc.status.PERMISSION_DENIED],
      ['FAILED_PRECONDITION', grpc.status.FAILED_PRECONDITION],
      ['UNAVAILABLE', grpc.status.UNAVAILABLE],
      ['UNAUTHENTICATED', grpc.status.UNAUTHENTICATED],
    ];
    for (const [code, n] of pairs) {
      expect(grpcStatusOf(code)).toBe(n);
      expect(codeOfGrpcStatus(n)).toBe(code);
    }
    expect(codeOfGrpcStatus(99)).toBe('UNKNOWN');
  });

  it('makes transient codes retryable by default', () => {
    const e = (code: Code, retryable?: boolean): TributaryError => new TributaryError({ code, reason: 'X', message: 'm', retryable });
    expect(e('UNAVAILABLE').retryable).toBe(true);
    expect(e('DEADLINE_EXCEEDED').retryable).toBe(true);
    expect(e('RESOURCE_EXHAUSTED').retryable).toBe(true);
    expect(e('ABORTED').retryable).toBe(true);
    expect(e('INVALID_ARGUMENT').retryable).toBe(false);
    expect(e('UNAVAILABLE', false).retryable).toBe(false);
  });

  it('keeps cause and details', () => {
    const cause = new Error('root');
    const e = new TributaryError({ code: 'INTERNAL', reason: Reason.INTERNAL, message: 'm', cause, details: { a: 1 } });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('TributaryError');
    expect(e.cause).toBe(cause);
    expect(e.details).toEqual({ a: 1 });
  });

  it('normalises anything with from()', () => {
    const own = new TributaryError({ code: 'NOT_FOUND', reason: Reason.RUN_NOT_FOUND, message: 'no run' });
    expect(TributaryError.from(own)).toBe(own);

    const metadata = new grpc.Metadata();
    metadata.set(REASON_TRAILER, Reason.SITE_NOT_SELECTED);
    const serviceError = Object.assign(new Error('9 FAILED_PRECONDITION: not selected'), {
      code: grpc.status.FAILED_PRECONDITION,
      details: 'not selected',
      metadata,
    });
    expect(TributaryError.from(serviceError)).toMatchObject({ code: 'FAILED_PRECONDITION', reason: 'SITE_NOT_SELECTED', message: 'not selected' });

    const bare = Object.assign(new Error('14 UNAVAILABLE: down'), { code: 14, details: 'down', metadata: new grpc.Metadata() });
    expect(TributaryError.from(bare)).toMatchObject({ code: 'UNAVAILABLE', reason: 'UNAVAILABLE', retryable: true });

    const abort = new DOMException('stop', 'AbortError');
    expect(TributaryError.from(abort)).toMatchObject({ code: 'CANCELLED' });

    expect(TributaryError.from(new TypeError('boom'))).toMatchObject({ code: 'INTERNAL', reason: 'INTERNAL', message: 'boom' });
    expect(TributaryError.from('text')).toMatchObject({ code: 'INTERNAL', message: 'text' });
    expect(TributaryError.from(Object.assign(new Error('fs'), { code: 'ENOENT' }))).toMatchObject({ code: 'INTERNAL' });
  });

  it('recognises TributaryErrors', () => {
    expect(isTributaryError(new TributaryError({ code: 'INTERNAL', reason: 'INTERNAL', message: 'm' }))).toBe(true);
    expect(isTributaryError(new Error('x'))).toBe(false);
    expect(isTributaryError(null)).toBe(false);
  });
});
