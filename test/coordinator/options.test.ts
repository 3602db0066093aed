import { describe, expect, it } from 'vitest';
import { TributaryError, generateSigningKey } from '@tributary/proto';
import { COORDINATOR_DEFAULTS, compileCoordinatorOptions } from '@tributary/coordinator';
import type { CoordinatorOptions } from '@tributary/coordinator';
import { CLIENT_DEFAULTS } from '../../coordinator/src/config/client-config.js';
import { caught } from '../helpers/errors.js';

const admin = generateSigningKey('admin').publicKey;
const base: CoordinatorOptions = { dataDir: '/var/lib/tributary', nats: 'nats://127.0.0.1:4222', adminKeys: [admin] };

function failure(opts: unknown): TributaryError {
  const err = caught(() => compileCoordinatorOptions(opts as CoordinatorOptions));
  expect(err).toBeInstanceOf(TributaryError);
  return err as TributaryError;
}

describe('compileCoordinatorOptions', () => {
  it('fills in every default', () => {
    const o = compileCoordinatorOptions(base);
    expect(o.grpc).toMatchObject({ listen: '127.0.0.1:7400', tls: undefined, maxReceiveMessageBytes: 4 * 2 ** 20, shutdownGraceMs: 2_000 });
    expect(o.nats.servers).toEqual(['nats://127.0.0.1:4222']);
    expect(o.metricsPort).toBe(0);
    expect(o.auth).toMatchObject({ skewMs: 300_000, maxNonces: 1_000_000 });
    expect(o.auth.rateLimits).toEqual({ perPeer: { ratePerSecond: 500, burst: 2_000 }, perKey: { ratePerSecond: 100, burst: 500 }, maxTracked: 100_000 });
    expect(o.rounds).toEqual({ maxUpdateBytes: 2 ** 30, aggregatorMemoryBytes: 2 ** 30 });
    expect(o.ingest).toEqual({ concurrency: 4, smallConcurrency: 64, smallPayloadBytes: 256 * 1024, smallInFlightBytes: 16 * 2 ** 20, payloadTimeoutMs: 30_000, minUploadBytesPerSecond: 2 ** 20, minUploadMs: 60_000, ackWaitMs: 15_000, maxDeliveries: 5, retryDelayMs: 2_000, pullAheadBytes: 16 * 2 ** 20, stopTimeoutMs: 10_000 });
    expect(o.metricIngest).toMatchObject({ flushIntervalMs: 100, maxBatchPoints: 5_000, ackWaitMs: 30_000, maxPointsPerBatch: 10_000 });
    expect(o.streams).toEqual({ updatesMaxBytes: 256 * 2 ** 20, payloadsMaxBytes: 8 * 2 ** 30, metricsMaxBytes: 2 ** 30 });
    expect(o.tracking).toEqual({ uri: 'level:///var/lib/tributary/tracking', plugins: [], retryDelayMs: 1_000, retryMaxDelayMs: 30_000, flushTimeoutMs: 5_000 });
    expect(o.strategyPlugins).toEqual([]);
  });

  it('returns frozen options', () => {
    const o = compileCoordinatorOptions(base);
    for (const part of [o, o.grpc, o.nats, o.auth, o.rounds, o.ingest, o.streams, o.metricIngest, o.tracking, o.nats.servers]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
  });

  it('takes durations as milliseconds or text with a unit, and sizes as bytes or text with a unit', () => {
    const o = compileCoordinatorOptions({
      ...base,
      authSkew: '30s',
      trackingRetryDelay: 250,
      maxUpdateSize: '256MiB',
      aggregatorMemory: 1024,
      ingest: { concurrency: 2, payloadTimeout: '1m', minUploadRate: '4MiB/s', minUploadTime: '2m' },
      metricIngest: { flushInterval: '250ms', maxBatchPoints: 100 },
    });
    expect(o.auth.skewMs).toBe(30_000);
    expect(o.tracking.retryDelayMs).toBe(250);
    expect(o.rounds).toEqual({ maxUpdateBytes: 256 * 2 ** 20, aggregatorMemoryBytes: 1024 });
    expect(o.ingest).toMatchObject({ concurrency: 2, payloadTimeoutMs: 60_000, minUploadBytesPerSecond: 4 * 2 ** 20, minUploadMs: 120_000 });
    expect(o.metricIngest).toMatchObject({ flushIntervalMs: 250, maxBatchPoints: 100 });
  });

  it('admits 64 small updates of up to 256 KiB, 16 MiB in all, besides the large ones by default', () => {
    expect(compileCoordinatorOptions(base).ingest).toMatchObject({ concurrency: 4, smallConcurrency: 64, smallPayloadBytes: 256 * 1024, smallInFlightBytes: 16 * 2 ** 20 });
  });

  it('turns the small updates budget off with a small concurrency of 0', () => {
    expect(compileCoordinatorOptions({ ...base, ingest: { smallConcurrency: 0 } }).ingest.smallConcurrency).toBe(0);
  });

  it('splits a comma-separated NATS string', () => {
    expect(compileCoordinatorOptions({ ...base, nats: 'nats://a:4222, nats://b:4222' }).nats.servers).toEqual(['nats://a:4222', 'nats://b:4222']);
  });

  it('has the admin CLI connect to the address the coordinator listens on by default', () => {
    expect(CLIENT_DEFAULTS.coordinator).toBe(COORDINATOR_DEFAULTS.grpcListen);
  });

  it.each([
    ['no admin keys', { adminKeys: [] }, 'adminKeys'],
    ['a short admin key', { adminKeys: [new Uint8Array(31)] }, 'adminKeys[0]'],
    ['an empty data directory', { dataDir: ' ' }, 'dataDir'],
    ['a listen address without a port', { grpcListen: 'localhost' }, 'grpcListen'],
    ['a NATS URL with spaces', { nats: 'nats://a b:4222' }, 'nats'],
    ['a metrics port out of range', { metricsPort: 70_000 }, 'metricsPort'],
    ['a duration without a unit', { authSkew: '300' }, 'authSkew'],
    ['a negative duration', { ingest: { payloadTimeout: -1 } }, 'ingest.payloadTimeout'],
    ['an unknown duration unit', { trackingRetryDelay: '5 parsecs' }, 'trackingRetryDelay'],
    ['a size with an unknown unit', { maxUpdateSize: '1 GiBibytes' }, 'maxUpdateSize'],
    ['a zero size', { aggregatorMemory: 0 }, 'aggregatorMemory'],
    ['zero ingest concurrency', { ingest: { concurrency: 0 } }, 'ingest.concurrency'],
    ['a small in-flight budget below one small payload', { ingest: { smallPayloadSize: '256KiB', smallInFlight: '100KiB' } }, 'ingest.smallInFlight'],
    ['a fractional small concurrency', { ingest: { smallConcurrency: 2.5 } }, 'ingest.smallConcurrency'],
    ['a zero upload rate', { ingest: { minUploadRate: '0MiB/s' } }, 'ingest.minUploadRate'],
    ['a stream limit with an unknown unit', { streams: { payloadsMaxBytes: '8 parsecs' } }, 'streams.payloadsMaxBytes'],
    ['a fractional batch size', { metricIngest: { maxBatchPoints: 1.5 } }, 'metricIngest.maxBatchPoints'],
    ['a plugin that is not a string', { strategyPlugins: [42] }, 'strategyPlugins[0]'],
  ])('refuses %s with INVALID_ARGUMENT naming the option', (_what, patch, option) => {
    const e = failure({ ...base, ...patch });
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(new RegExp(`^invalid CoordinatorOptions\\.${option.replace(/[.[\]]/g, '\\$&')} .+: .+$`));
  });

  describe('natsAuthority', () => {
    it('is off unless given', () => {
      expect(compileCoordinatorOptions(base).natsAuthority).toBeUndefined();
    });

    it('issues site credentials for an hour by default', () => {
      expect(compileCoordinatorOptions({ ...base, natsAuthority: '/etc/tributary/nats' }).natsAuthority).toMatchObject({ dir: '/etc/tributary/nats', siteCredentialTtlMs: 3_600_000 });
    });

    it('takes siteCredentialTtl as a duration', () => {
      expect(compileCoordinatorOptions({ ...base, natsAuthority: '/n', siteCredentialTtl: '2s' }).natsAuthority?.siteCredentialTtlMs).toBe(2_000);
    });

    it.each([['below a second', '500ms'], ['above a day', '25h']])('refuses a siteCredentialTtl %s', (_what, ttl) => {
      expect(failure({ ...base, natsAuthority: '/n', siteCredentialTtl: ttl }).message).toMatch(/^invalid CoordinatorOptions\.siteCredentialTtl .+: must be from 1 s to 24 h$/);
    });

    it('refuses siteCredentialTtl without natsAuthority', () => {
      expect(failure({ ...base, siteCredentialTtl: '1h' }).message).toMatch(/^invalid CoordinatorOptions\.siteCredentialTtl .+: needs natsAuthority$/);
    });
  });
});
