import { describe, expect, it } from 'vitest';
import { DEFAULT_CHUNK_SIZE, TributaryError, formatPublicKey, generateSigningKey, signBytes, signBytesNative } from '@tributary/proto';
import { compileSiteClientOptions, DEFAULT_VERDICT_TIMEOUT_MS } from '@tributary/client-sdk';
import type { SiteClientOptions } from '@tributary/client-sdk';
import { caught } from '../helpers/errors.js';

const base: SiteClientOptions = {
  coordinator: '127.0.0.1:7400',
  nats: 'nats://127.0.0.1:4222',
  key: '/etc/tributary/site.key',
};

function failure(opts: unknown): TributaryError {
  const err = caught(() => compileSiteClientOptions(opts as SiteClientOptions));
  expect(err).toBeInstanceOf(TributaryError);
  return err as TributaryError;
}

describe('compileSiteClientOptions', () => {
  it('fills in the defaults', () => {
    const o = compileSiteClientOptions(base);
    expect(o.coordinator).toBe('127.0.0.1:7400');
    expect(o.nats).toEqual(['nats://127.0.0.1:4222']);
    expect(o.chunkSize).toBe(DEFAULT_CHUNK_SIZE);
    expect(o.verdictTimeoutMs).toBe(DEFAULT_VERDICT_TIMEOUT_MS);
    expect(o.metricsFlushIntervalMs).toBe(1_000);
    expect(o.retry).toMatchObject({ initialDelayMs: 200, maxDelayMs: 10_000, maxAttempts: Infinity, maxElapsedMs: Infinity });
    expect(o.credentials).toBeUndefined();
  });

  it('signs with node:crypto unless given a signer, and keeps the one given', () => {
    expect(compileSiteClientOptions(base).signer).toBe(signBytesNative);
    expect(compileSiteClientOptions({ ...base, signer: signBytes }).signer).toBe(signBytes);
  });

  it('returns frozen options', () => {
    const o = compileSiteClientOptions(base);
    expect(Object.isFrozen(o)).toBe(true);
    expect(Object.isFrozen(o.nats)).toBe(true);
    expect(Object.isFrozen(o.retry)).toBe(true);
  });

  it('turns a single NATS URL into an array and keeps a list as given', () => {
    const o = compileSiteClientOptions({ ...base, nats: ['nats://a:4222', 'b:4223'] });
    expect(o.nats).toEqual(['nats://a:4222', 'b:4223']);
  });

  it('keeps a signing key object as the key', () => {
    const key = generateSigningKey('clinic-a');
    expect(compileSiteClientOptions({ ...base, key }).key).toBe(key);
  });

  it('accepts explicit values within range', () => {
    const o = compileSiteClientOptions({
      ...base,
      chunkSize: 4096,
      verdictTimeoutMs: 500,
      metricsFlushIntervalMs: 50,
      retry: { initialDelayMs: 10, maxDelayMs: 100, maxRetries: 2, maxWait: 30_000 },
    });
    expect(o.chunkSize).toBe(4096);
    expect(o.verdictTimeoutMs).toBe(500);
    expect(o.metricsFlushIntervalMs).toBe(50);
    expect(o.retry).toMatchObject({ initialDelayMs: 10, maxDelayMs: 100, maxAttempts: 3, maxElapsedMs: 30_000 });
  });

  it('counts maxRetries after the first attempt', () => {
    expect(compileSiteClientOptions({ ...base, retry: { maxRetries: 0 } }).retry.maxAttempts).toBe(1);
    expect(compileSiteClientOptions({ ...base, retry: { maxRetries: Infinity } }).retry.maxAttempts).toBe(Infinity);
  });

  it('keeps the deprecated maxAttempts as attempts in all', () => {
    expect(compileSiteClientOptions({ ...base, retry: { maxAttempts: 8 } }).retry.maxAttempts).toBe(8);
  });

  it.each([
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['250ms', 250],
    ['1.5s', 1_500],
  ])('reads the maxWait duration %s', (text, ms) => {
    expect(compileSiteClientOptions({ ...base, retry: { maxWait: text } }).retry.maxElapsedMs).toBe(ms);
  });

  it('accepts gRPC target schemes and bracketed IPv6 addresses', () => {
    expect(compileSiteClientOptions({ ...base, coordinator: 'dns:///coord.example.org:7400' }).coordinator).toBe(
      'dns:///coord.example.org:7400',
    );
    expect(compileSiteClientOptions({ ...base, coordinator: '[::1]:7400' }).coordinator).toBe('[::1]:7400');
  });

  it('pins no coordinator key unless given one', () => {
    expect(compileSiteClientOptions(base).coordinatorKey).toBeUndefined();
  });

  it('pins a coordinator key given as raw bytes or in base64, as its 32 raw bytes', () => {
    const { publicKey } = generateSigningKey('coordinator');
    expect(compileSiteClientOptions({ ...base, coordinatorKey: publicKey }).coordinatorKey).toEqual(publicKey);
    expect(compileSiteClientOptions({ ...base, coordinatorKey: formatPublicKey(publicKey) }).coordinatorKey).toEqual(publicKey);
    expect(compileSiteClientOptions({ ...base, coordinatorKey: Buffer.from(publicKey).toString('base64url') }).coordinatorKey).toEqual(publicKey);
  });

  it('uses the given logger', () => {
    const logger = { info: () => undefined, warn: () => undefined, debug: () => undefined };
    expect(compileSiteClientOptions({ ...base, logger }).logger).toBe(logger);
  });

  it('refuses bad values with INVALID_ARGUMENT naming the option', () => {
    const e = failure({ ...base, chunkSize: 0 });
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.reason).toBe('INVALID_ARGUMENT');
    expect(e.details).toEqual({ option: 'chunkSize' });
    expect(e.message).toBe(
      `invalid SiteClientOptions.chunkSize: expected an integer from 1 to ${DEFAULT_CHUNK_SIZE}, got 0`,
    );
  });

  it.each([
    ['a coordinator without a port', { coordinator: 'localhost' }, 'coordinator'],
    ['a coordinator with port 0', { coordinator: 'localhost:0' }, 'coordinator'],
    ['a coordinator that is not a string', { coordinator: 7400 }, 'coordinator'],
    ['an empty list of NATS servers', { nats: [] }, 'nats'],
    ['a NATS URL with spaces', { nats: 'nats://a b:4222' }, 'nats'],
    ['a bad entry in the NATS list', { nats: ['nats://a:4222', 42] }, 'nats[1]'],
    ['an empty key path', { key: '' }, 'key'],
    ['a key object with a short public key', { key: { name: 'x', keyId: 'y', publicKey: new Uint8Array(31), secretKey: new Uint8Array(64) } }, 'key'],
    ['a chunk size above the payload stream limit', { chunkSize: DEFAULT_CHUNK_SIZE + 1 }, 'chunkSize'],
    ['a fractional chunk size', { chunkSize: 1.5 }, 'chunkSize'],
    ['a negative verdict timeout', { verdictTimeoutMs: -1 }, 'verdictTimeoutMs'],
    ['an infinite verdict timeout', { verdictTimeoutMs: Infinity }, 'verdictTimeoutMs'],
    ['a verdict timeout given as a string', { verdictTimeoutMs: '5s' }, 'verdictTimeoutMs'],
    ['a logger without debug', { logger: { info() {}, warn() {} } }, 'logger'],
    ['credentials that are not an object', { credentials: 'insecure' }, 'credentials'],
    ['a coordinator key of 31 bytes', { coordinatorKey: new Uint8Array(31) }, 'coordinatorKey'],
    ['a coordinator key that is not base64 of 32 bytes', { coordinatorKey: 'c2hvcnQ=' }, 'coordinatorKey'],
    ['a coordinator key given as a number', { coordinatorKey: 42 }, 'coordinatorKey'],
    ['a retry ceiling below the first delay', { retry: { initialDelayMs: 500, maxDelayMs: 100 } }, 'retry.maxDelayMs'],
    ['zero retry attempts', { retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
    ['a negative number of retries', { retry: { maxRetries: -1 } }, 'retry.maxRetries'],
    ['a fractional number of retries', { retry: { maxRetries: 1.5 } }, 'retry.maxRetries'],
    ['both maxRetries and maxAttempts', { retry: { maxRetries: 3, maxAttempts: 4 } }, 'retry.maxAttempts'],
    ['a zero maxWait', { retry: { maxWait: 0 } }, 'retry.maxWait'],
    ['a maxWait without a unit', { retry: { maxWait: '90' } }, 'retry.maxWait'],
    ['a maxWait in days', { retry: { maxWait: '2d' } }, 'retry.maxWait'],
    ['a zero metrics flush interval', { metricsFlushIntervalMs: 0 }, 'metricsFlushIntervalMs'],
    ['a signer that is not a function', { signer: 'native' }, 'signer'],
  ])('refuses %s', (_what, patch, option) => {
    const e = failure({ ...base, ...patch });
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.details).toEqual({ option });
    expect(e.message).toMatch(new RegExp(`^invalid SiteClientOptions\\.${option.replace(/[.[\]]/g, '\\$&')}: expected .+, got .+$`));
  });

  it('refuses a missing options object', () => {
    expect(failure(undefined).message).toBe('invalid SiteClientOptions: expected an options object, got undefined');
  });
});
