import { TributaryError, encodeSafetensors, sha256Hex, tensor, type SigningKey, type TensorMap } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejection } from '../helpers/errors.js';
import { RawSite } from '../helpers/raw-site.js';
import { addSite, startStack, type Stack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

/** A safetensors file whose JSON header is written by hand (e.g. naming a tensor twice). */
function handWritten(header: string, data: Uint8Array): Buffer {
  const padded = header.padEnd(Math.ceil(header.length / 8) * 8, ' ');
  const out = Buffer.alloc(8 + padded.length + data.length);
  out.writeBigUInt64LE(BigInt(padded.length), 0);
  out.write(padded, 8, 'utf8');
  out.set(data, 8 + padded.length);
  return out;
}

/** Bytes of float32 values, little-endian. */
const f32 = (values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);

describe('numbers a site or an operator may not send', () => {
  let stack: Stack;
  let raw: RawSite;
  const base = toyModel();

  beforeAll(async () => {
    stack = await startStack();
    raw = await stack.rawSite();
  });
  afterAll(async () => {
    await raw?.close();
    await stack?.stop();
  });

  /** A federation of one site with a running one-round run. */
  async function federationOfOne(name: string, model: TensorMap, settings: Record<string, unknown> = {}): Promise<{ key: SigningKey; runId: string }> {
    await stack.admin.createFederation({ name, settings: { rounds: 1, roundDeadlineSeconds: 120, ...settings }, initialModel: encodeSafetensors(model) });
    const key = await addSite(stack, `${name}-site`, [name]);
    const run = await stack.admin.startRun(name);
    return { key, runId: run.id };
  }

  it('gives a federation a max_examples of one billion by default', async () => {
    await stack.admin.createFederation({ name: 'defaults', settings: {}, initialModel: encodeSafetensors(base) });
    expect((await stack.admin.getFederation('defaults')).settings?.maxExamples).toBe(1_000_000_000);
  });

  it('refuses an update claiming more examples than max_examples with TOO_MANY_EXAMPLES', async () => {
    const { key, runId } = await federationOfOne('bounded-examples', base, { maxExamples: 1000 });
    const send = (numExamples: number) =>
      raw.send({ key, site: 'bounded-examples-site', federation: 'bounded-examples', runId, round: 1, weights: toyTrain(base, 'a', 1), numExamples });
    expect(await send(1001)).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason: 'TOO_MANY_EXAMPLES' });
    expect(await send(1000)).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
  });

  it('refuses a claim of 1e15 examples under the default bound', async () => {
    const { key, runId } = await federationOfOne('default-examples', base);
    const v = await raw.send({ key, site: 'default-examples-site', federation: 'default-examples', runId, round: 1, weights: toyTrain(base, 'a', 1), numExamples: 1e15 });
    expect(v).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason: 'TOO_MANY_EXAMPLES' });
    await stack.admin.stopRun(runId, 'done');
  });

  it('fails a round whose aggregate overflows to infinity with NON_FINITE_AGGREGATE, committing nothing', async () => {
    const model = { w: tensor('F64', [2], new Float64Array([0, 0])) };
    const { key, runId } = await federationOfOne('overflowing', model);
    const huge = { w: tensor('F64', [2], new Float64Array([1.5e308, 1])) };
    // Every value is finite; 1.5e308 × 10 examples is not.
    expect(await raw.send({ key, site: 'overflowing-site', federation: 'overflowing', runId, round: 1, weights: huge, numExamples: 10 })).toMatchObject({
      state: 'UPDATE_STATE_ACCEPTED',
    });
    expect((await stack.admin.waitForRun(runId)).status).toBe('RUN_STATUS_FAILED');
    const round = await stack.admin.getRound(runId, 1);
    expect(round.state).toBe('ROUND_STATE_FAILED');
    expect(round.failureReason).toMatch(/^NON_FINITE_AGGREGATE: /);
    expect((await stack.admin.getFederation('overflowing')).latestVersion).toBe(1);
  });

  it('refuses an I64 value beyond 2^53 in an update with VALUE_OUT_OF_RANGE', async () => {
    const model = { steps: tensor('I64', [2], new BigInt64Array([0n, 0n])) };
    const { key, runId } = await federationOfOne('counters', model);
    const send = (values: bigint[]) =>
      raw.send({ key, site: 'counters-site', federation: 'counters', runId, round: 1, weights: { steps: tensor('I64', [2], new BigInt64Array(values)) } });
    expect(await send([2n ** 53n + 1n, 0n])).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason: 'VALUE_OUT_OF_RANGE' });
    expect(await send([2n ** 53n - 1n, -(2n ** 53n - 1n)])).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
  });

  it('refuses an update whose safetensors header names a tensor twice with SCHEMA_MISMATCH', async () => {
    const { key, runId } = await federationOfOne('twice', base);
    // Two "b" entries: JSON keeps the last one only, hiding the first from every check.
    const header = '{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"F32","shape":[3],"data_offsets":[24,36]},"b":{"dtype":"F32","shape":[3],"data_offsets":[36,48]}}';
    const bytes = handWritten(header, f32([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]));
    const v = await raw.send({
      key,
      site: 'twice-site',
      federation: 'twice',
      runId,
      round: 1,
      weights: base,
      payloadOverride: bytes,
      tamper: { payloadSize: bytes.length, payloadSha256: sha256Hex(bytes) },
    });
    expect(v).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason: 'SCHEMA_MISMATCH' });
    expect(v.message).toContain('"b"');
    await stack.admin.stopRun(runId, 'done');
  });

  describe('an initial model is checked like an update', () => {
    const create = (name: string, initialModel: Uint8Array, settings: Record<string, unknown> = {}) =>
      rejection(stack.admin.createFederation({ name, settings, initialModel }));

    it('refuses NaN, even with a norm bound that NaN would otherwise switch off', async () => {
      const nan = { w: tensor('F32', [2], new Float32Array([Number.NaN, 1])) };
      const err = await create('nan-initial', encodeSafetensors(nan), { normBound: 1 });
      expect(TributaryError.from(err)).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'NON_FINITE' });
      expect((await stack.admin.listFederations()).map((f) => f.name)).not.toContain('nan-initial');
    });

    it('refuses infinity', async () => {
      const inf = { w: tensor('F64', [1], new Float64Array([Number.POSITIVE_INFINITY])) };
      expect(TributaryError.from(await create('inf-initial', encodeSafetensors(inf)))).toMatchObject({ reason: 'NON_FINITE' });
    });

    it('refuses a tensor named twice', async () => {
      const header = '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
      const err = await create('twice-initial', handWritten(header, f32([1, 2])));
      expect(TributaryError.from(err)).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'SCHEMA_MISMATCH' });
    });

    it('refuses an I64 value beyond 2^53', async () => {
      const big = { n: tensor('I64', [1], new BigInt64Array([2n ** 60n])) };
      expect(TributaryError.from(await create('big-initial', encodeSafetensors(big)))).toMatchObject({ reason: 'VALUE_OUT_OF_RANGE' });
    });
  });
});
