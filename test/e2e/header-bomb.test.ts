import { TributaryError, encodeSafetensors, sha256Hex, tensor, type SigningKey } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejection } from '../helpers/errors.js';
import { RawSite } from '../helpers/raw-site.js';
import { addSite, startStack, type Stack } from '../helpers/stack.js';

/** A safetensors file listing `count` tensors of zero bytes: all header, no data. */
function emptyTensors(count: number): Buffer {
  const entries: string[] = [];
  for (let i = 0; i < count; i++) entries.push(`"${i.toString(36)}":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}`);
  const json = `{${entries.join(',')}}`;
  const length = Math.ceil(json.length / 8) * 8;
  const out = Buffer.alloc(8 + length, 0x20);
  out.writeBigUInt64LE(BigInt(length), 0);
  out.write(json, 8, 'latin1');
  return out;
}

/** Largest RSS growth allowed while the coordinator (in this process) refuses a bomb. */
const RSS_BOUND = 128 * 2 ** 20;

describe('a safetensors header listing countless empty tensors', () => {
  let stack: Stack;
  let raw: RawSite;
  let key: SigningKey;
  let runId = '';
  let specRunId = '';
  const federation = 'members';

  beforeAll(async () => {
    stack = await startStack();
    raw = await stack.rawSite();
    await stack.admin.createFederation({
      name: federation,
      settings: { strategy: 'ensemble', rounds: 1, roundDeadlineSeconds: 120 },
      initialModel: encodeSafetensors({ placeholder: tensor('F32', [1], new Float32Array(1)) }),
    });
    await stack.admin.createFederation({
      name: 'spec',
      settings: { strategy: 'fedavg', rounds: 1, roundDeadlineSeconds: 120 },
      initialModel: encodeSafetensors({ w: tensor('F32', [2], new Float32Array(2)), b: tensor('F32', [1], new Float32Array(1)) }),
    });
    key = await addSite(stack, 'bomber', [federation, 'spec']);
    runId = (await stack.admin.startRun(federation)).id;
    specRunId = (await stack.admin.startRun('spec')).id;
  });
  afterAll(async () => {
    await raw?.close();
    await stack?.stop();
  });

  /** Sends `payload` as bomber's update of `round` in `federation`, measuring this process's RSS growth. */
  async function sendMeasured(payload: Buffer, to: { federation: string; runId: string }, tensors: { name: string; dtype: string; shape: number[] }[] = []) {
    let peak = process.memoryUsage().rss;
    const before = peak;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    try {
      const verdict = await raw.send({
        key,
        site: 'bomber',
        federation: to.federation,
        runId: to.runId,
        round: 1,
        weights: {},
        payloadOverride: payload,
        tamper: { payloadSize: payload.length, payloadSha256: sha256Hex(payload), tensors },
      });
      console.log(`header bomb of ${payload.length} bytes: RSS ${(before / 2 ** 20).toFixed(0)} MiB before, peak growth ${((peak - before) / 2 ** 20).toFixed(1)} MiB`);
      return { verdict, growth: peak - before };
    } finally {
      clearInterval(sampler);
    }
  }

  it('is refused as an ensemble member from its length prefix alone (1 MiB header bound), 280,000 tensors long', async () => {
    const bomb = emptyTensors(280_000);
    const { verdict, growth } = await sendMeasured(bomb, { federation, runId });
    expect(verdict).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason: 'MALFORMED_PAYLOAD' });
    expect(verdict.message).toContain(`exceeds ${2 ** 20} bytes`);
    expect(growth).toBeLessThan(RSS_BOUND);
  });

  it('is refused with SCHEMA_MISMATCH while its keys are scanned when it lists more tensors than the model spec', async () => {
    const { verdict } = await sendMeasured(emptyTensors(100), { federation: 'spec', runId: specRunId }, [
      { name: 'w', dtype: 'F32', shape: [2] },
      { name: 'b', dtype: 'F32', shape: [1] },
    ]);
    expect(verdict).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason: 'SCHEMA_MISMATCH' });
    expect(verdict.message).toContain('more than 2 tensors');
  });

  it('is refused as an initial model 1.6 million tensors long before its header is read (over 16 MiB)', async () => {
    const bomb = emptyTensors(1_600_000);
    const err = TributaryError.from(await rejection(stack.admin.createFederation({ name: 'bombed', settings: { strategy: 'ensemble' }, initialModel: bomb })));
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'MALFORMED_PAYLOAD' });
    expect(err.message).toContain(`exceeds ${16 * 2 ** 20} bytes`);
    expect((await stack.admin.listFederations()).map((f) => f.name)).not.toContain('bombed');
  });

  it('is refused with SCHEMA_MISMATCH as an initial model whose header fits 16 MiB but lists too many tensors', async () => {
    const bomb = emptyTensors(280_000);
    const err = TributaryError.from(await rejection(stack.admin.createFederation({ name: 'bombed', settings: { strategy: 'ensemble' }, initialModel: bomb })));
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'SCHEMA_MISMATCH' });
    expect(err.message).toContain('more than 65536 tensors');
    expect((await stack.admin.listFederations()).map((f) => f.name)).not.toContain('bombed');
  });
});
