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
  const federation = 'members';

  beforeAll(async () => {
    stack = await startStack();
    raw = await stack.rawSite();
    await stack.admin.createFederation({
      name: federation,
      settings: { strategy: 'ensemble', rounds: 1, roundDeadlineSeconds: 120 },
      initialModel: encodeSafetensors({ placeholder: tensor('F32', [1], new Float32Array(1)) }),
    });
    key = await addSite(stack, 'bomber', [federation]);
    runId = (await stack.admin.startRun(federation)).id;
  });
  afterAll(async () => {
    await raw?.close();
    await stack?.stop();
  });

  it('is refused with SCHEMA_MISMATCH as an ensemble member, its header read no further than the tensor bound', async () => {
    // 280,000 entries fit in the 16 MiB header a member of a round without a spec may have.
    const bomb = emptyTensors(280_000);
    expect(bomb.length).toBeLessThan(16 * 2 ** 20);
    let peak = process.memoryUsage().rss;
    const before = peak;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    let v;
    try {
      v = await raw.send({
        key,
        site: 'bomber',
        federation,
        runId,
        round: 1,
        weights: {},
        payloadOverride: bomb,
        tamper: { payloadSize: bomb.length, payloadSha256: sha256Hex(bomb), tensors: [] },
      });
    } finally {
      clearInterval(sampler);
    }
    console.log(`header bomb of ${bomb.length} bytes: RSS ${(before / 2 ** 20).toFixed(0)} MiB before, peak growth ${((peak - before) / 2 ** 20).toFixed(1)} MiB`);
    expect(v).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason: 'SCHEMA_MISMATCH' });
    expect(v.message).toContain('more than 65536 tensors');
    expect(peak - before).toBeLessThan(RSS_BOUND);
  });

  it('is refused with SCHEMA_MISMATCH as an initial model, 1.6 million tensors long', async () => {
    const bomb = emptyTensors(1_600_000);
    const err = await rejection(stack.admin.createFederation({ name: 'bombed', settings: { strategy: 'ensemble' }, initialModel: bomb }));
    expect(TributaryError.from(err)).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'SCHEMA_MISMATCH' });
    expect((await stack.admin.listFederations()).map((f) => f.name)).not.toContain('bombed');
  });
});
