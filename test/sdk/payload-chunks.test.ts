import { describe, expect, it } from 'vitest';
import { encodeSafetensors, safetensorsParts, tensor } from '@tributary/proto';
import { PayloadChunks } from '../../client-sdk/src/update-payload.js';

function model(): Parameters<typeof safetensorsParts>[0] {
  const a = new Float32Array(100).map((_, i) => i + 0.5);
  const b = new Float64Array(7).map((_, i) => -i);
  const c = new Int32Array(33).map((_, i) => i * 3);
  return { a: tensor('F32', [100], a), b: tensor('F64', [7], b), c: tensor('I32', [33], c) };
}

describe('payload chunks over the parts of an update', () => {
  it('read back in order, give the bytes of the whole encoded file, whatever the chunk size', () => {
    const whole = encodeSafetensors(model());
    for (const size of [1, 7, 64, 100, 400, whole.length - 1, whole.length, whole.length + 5]) {
      const chunks = new PayloadChunks(safetensorsParts(model()));
      const out: Uint8Array[] = [];
      for (let at = 0; at < whole.length; at += size) out.push(chunks.slice(at, Math.min(whole.length, at + size)));
      expect(Buffer.concat(out)).toEqual(whole);
    }
  });

  it('views a tensor in place when a chunk lies within it, and copies only a chunk that spans parts', () => {
    const weights = model();
    const parts = safetensorsParts(weights);
    const headerBytes = (parts.parts[0] as Uint8Array).length;
    const chunks = new PayloadChunks(parts);
    const spanning = chunks.slice(0, headerBytes + 8);
    const inside = chunks.slice(headerBytes + 8, headerBytes + 40);
    expect(spanning.buffer).not.toBe(weights['a']?.data.buffer);
    expect(inside.buffer).toBe(weights['a']?.data.buffer);
  });
});
