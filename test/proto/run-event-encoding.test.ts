import { describe, expect, it } from 'vitest';
import { preEncodeRunEvent, serviceDefinition, serviceMethods, type RunEvent__Output } from '@tributary/proto';

const send = serviceDefinition('AdminService').WatchRun.responseSerialize as (v: object) => Buffer;
const decode = serviceMethods('AdminService').WatchRun!.responseDeserialize as (b: Buffer) => RunEvent__Output;

function summary(site: string): object {
  return { updateId: site.padEnd(32, '0'), site, numExamples: 10, payloadSha256: 'ab'.repeat(32), acceptedAtMs: 1_700_000_000_000, metrics: { loss: 0.5 } };
}

const run = { id: '0123456789abcdef', federation: 'churn', status: 'RUN_STATUS_RUNNING', rounds: 3, currentRound: 1, startedAtMs: 1_700_000_000_000 };
const round = {
  federation: 'churn',
  runId: run.id,
  number: 1,
  state: 'ROUND_STATE_OPEN',
  selectedSites: Array.from({ length: 300 }, (_, i) => `site-${i}`),
  accepted: Array.from({ length: 200 }, (_, i) => summary(`site-${i}`)),
  metrics: { clipped_updates: 1 },
  bytesReceived: 2 ** 40,
};

function event(site: string): RunEvent__Output {
  return { type: 'UPDATE_ACCEPTED', atMs: 1_700_000_000_123, run, round, update: summary(site), refusal: null } as unknown as RunEvent__Output;
}

describe('run events encoded with a shared run and round', () => {
  it('decode as the plain encoding of the same event', () => {
    const e = event('site-7');
    expect(decode(send(preEncodeRunEvent(e)))).toEqual(decode(send(e)));
  });

  it('give each event of a group its own update with the same round', () => {
    const [a, b] = [preEncodeRunEvent(event('site-1')), preEncodeRunEvent(event('site-2'))];
    expect(decode(send(a)).update?.site).toBe('site-1');
    expect(decode(send(b)).update?.site).toBe('site-2');
    expect(decode(send(a)).round).toEqual(decode(send(b)).round);
  });

  it('encode an event without a round', () => {
    const e = { type: 'RUN_ENDED', atMs: 5, run, round: null, update: null, refusal: null } as unknown as RunEvent__Output;
    expect(decode(send(preEncodeRunEvent(e)))).toEqual(decode(send(e)));
  });
});
