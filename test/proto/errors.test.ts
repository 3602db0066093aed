import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import {
  REASON_STATUS,
  REASON_TRAILER,
  Reason,
  TributaryError,
  codeOfGrpcStatus,
  grpcStatusOf,
  hasReason,
  isReasonCode,
  isTributaryError,
  refusalOf,
  type Code,
  type ReasonCode,
} from '@tributary/proto';

const REASONS = Object.values(Reason);

/** The rows of the reason-code table in docs/protocol.md: reason -> the first status named. */
function documentedReasons(): Map<string, string> {
  const text = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
  const section = text.slice(text.indexOf('\n## Reason codes\n'));
  const body = section.slice(0, section.indexOf('\n## ', 1));
  const rows = new Map<string, string>();
  for (const line of body.split('\n')) {
    const cells = /^\| `([A-Z_]+)` \| `([A-Z_]+)`/.exec(line);
    if (cells !== null) rows.set(cells[1]!, cells[2]!);
  }
  return rows;
}

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
    const e = (code: Code, retryable?: boolean): TributaryError => new TributaryError({ code, reason: Reason.INTERNAL, message: 'm', retryable });
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

  it('gives every reason a status, keyed by its own name', () => {
    expect(Object.keys(REASON_STATUS).sort()).toEqual([...REASONS].sort());
    for (const [key, reason] of Object.entries(Reason)) {
      expect(reason).toBe(key);
      expect(grpcStatusOf(REASON_STATUS[reason])).toBeGreaterThan(0);
    }
  });

  it('has a reason for every gRPC status but OK, with that status', () => {
    for (let n = 1; n <= 16; n++) {
      const code = codeOfGrpcStatus(n);
      expect(isReasonCode(code)).toBe(true);
      expect(REASON_STATUS[code as ReasonCode]).toBe(code);
    }
  });

  it('documents exactly the Reason set, each with its status, in docs/protocol.md', () => {
    const documented = documentedReasons();
    expect([...documented.keys()].sort()).toEqual([...REASONS].sort());
    for (const [reason, status] of documented) expect(status, reason).toBe(REASON_STATUS[reason as ReasonCode]);
  });

  it('derives the status of of() from the reason, unless told another', () => {
    for (const reason of REASONS) {
      const e = TributaryError.of(reason, 'm');
      expect(e).toMatchObject({ reason, code: REASON_STATUS[reason], message: 'm' });
    }
    const cause = new Error('root');
    const e = TributaryError.of(Reason.INVALID_ARGUMENT, 'past the end', { code: 'OUT_OF_RANGE', cause, retryable: true, details: { offset: 9 } });
    expect(e).toMatchObject({ reason: 'INVALID_ARGUMENT', code: 'OUT_OF_RANGE', retryable: true, details: { offset: 9 } });
    expect(e.cause).toBe(cause);
  });

  it('makes the common errors with the short constructors', () => {
    expect(TributaryError.invalidArgument('bad')).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'INVALID_ARGUMENT', message: 'bad' });
    expect(TributaryError.invalidArgument('bad', Reason.INVALID_NAME)).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'INVALID_NAME' });
    expect(TributaryError.notFound('gone')).toMatchObject({ code: 'NOT_FOUND', reason: 'NOT_FOUND', message: 'gone' });
    const cause = new Error('root');
    expect(TributaryError.internal('bug', cause)).toMatchObject({ code: 'INTERNAL', reason: 'INTERNAL', cause });
    expect(TributaryError.cancelled('stop')).toMatchObject({ code: 'CANCELLED', reason: 'CANCELLED', retryable: false });
  });

  it('turns an error into a refusal, and tells reasons apart by code', () => {
    const e = TributaryError.of(Reason.DIGEST_MISMATCH, 'payload digest differs');
    expect(e.toRefusal()).toEqual(refusalOf(Reason.DIGEST_MISMATCH, 'payload digest differs'));
    expect(hasReason(e, Reason.DIGEST_MISMATCH)).toBe(true);
    expect(hasReason(e, Reason.SIZE_MISMATCH)).toBe(false);
    expect(hasReason(new Error('DIGEST_MISMATCH'), Reason.DIGEST_MISMATCH)).toBe(false);
    expect(isReasonCode('NO_SUCH_REASON')).toBe(false);
  });

  it('keeps a reason it does not know from the trailer in details, with the status name as reason', () => {
    const metadata = new grpc.Metadata();
    metadata.set(REASON_TRAILER, 'A_NEWER_REASON');
    const err = Object.assign(new Error('9 FAILED_PRECONDITION: later'), { code: grpc.status.FAILED_PRECONDITION, details: 'later', metadata });
    expect(TributaryError.from(err)).toMatchObject({ code: 'FAILED_PRECONDITION', reason: 'FAILED_PRECONDITION', details: { reason: 'A_NEWER_REASON' } });
  });
});
