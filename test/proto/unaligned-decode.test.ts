import { describe, expect, it } from 'vitest';
import { decodeSafetensors, decodeSafetensorsAsync, encodeSafetensors, fromFloat64, fromFloat64Async, toFloat64, type DType, type Tensor, type TensorMap, elementCount } from '@tributary/proto';
import { prng } from '../helpers/random.js';

// Odd sizes: the F16 tensor first leaves every later tensor's data unaligned for its dtype, and
// the large ones straddle the 1 MiB runs an unaligned copy is made in.
const shapes: Array<{ name: string; dtype: DType; shape: number[] }> = [
  { name: 'a.half', dtype: 'F16', shape: [300_001] },
  { name: 'b.weight', dtype: 'F32', shape: [263_169, 3] },
  { name: 'c.bias', dtype: 'F64', shape: [131_075] },
  { name: 'd.scale', dtype: 'BF16', shape: [524_289, 3] },
  { name: 'e.steps', dtype: 'I64', shape: [7] },
];

function randomModel(seed: number): TensorMap {
  const random = prng(seed);
  const model: TensorMap = {};
  for (const s of shapes) {
    const n = elementCount(s.shape);
    const integer = s.dtype === 'I64';
    model[s.name] = fromFloat64(s.dtype, s.shape, Float64Array.from({ length: n }, () => (integer ? Math.round((random() - 0.5) * 1e6) : (random() - 0.5) * 1e3)));
  }
  return model;
}

/** The payload at an odd offset of a larger buffer, as bytes read after a 1-byte prefix lie. */
function atOddOffset(payload: Uint8Array): Uint8Array {
  const buffer = new Uint8Array(payload.length + 1);
  buffer.set(payload, 1);
  return buffer.subarray(1);
}

const bytesOf = (t: Tensor): Buffer => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

describe('decoding unaligned tensor data without holding the event loop', () => {
  const model = randomModel(7);
  const payload = encodeSafetensors(model);

  it('decodes every unaligned tensor to the bytes that were encoded', async () => {
    const { tensors } = await decodeSafetensorsAsync(atOddOffset(payload), { view: true });
    for (const s of shapes) {
      expect(tensors[s.name]!.shape).toEqual(s.shape);
      expect(bytesOf(tensors[s.name]!).equals(bytesOf(model[s.name]!)), s.name).toBe(true);
    }
  });

  it('decodes the same tensors in steps as at once', async () => {
    const odd = atOddOffset(payload);
    const stepped = (await decodeSafetensorsAsync(odd, { view: true })).tensors;
    const atOnce = decodeSafetensors(odd, { view: true }).tensors;
    for (const s of shapes) expect(bytesOf(stepped[s.name]!).equals(bytesOf(atOnce[s.name]!)), s.name).toBe(true);
  });

  it('puts each copied tensor in an aligned array of its own', async () => {
    const odd = atOddOffset(payload);
    const { tensors } = await decodeSafetensorsAsync(odd, { view: true });
    for (const s of shapes) {
      const data = tensors[s.name]!.data;
      expect(data.buffer).not.toBe(odd.buffer);
      expect(data.byteOffset % data.BYTES_PER_ELEMENT).toBe(0);
    }
  });

  it('lets a timer armed before a large unaligned decode fire before the decode resolves', async () => {
    const large = encodeSafetensors({ h: fromFloat64('F16', [1], Float64Array.of(1)), w: fromFloat64('F32', [1 << 23], new Float64Array(1 << 23).fill(0.5)) });
    const order: string[] = [];
    const timer = new Promise<void>((resolve) => setTimeout(() => {
      order.push('timer');
      resolve();
    }, 0));
    const decoded = decodeSafetensorsAsync(atOddOffset(large), { view: true }).then((r) => {
      order.push('decode');
      return r;
    });
    await Promise.all([timer, decoded]);
    expect(order).toEqual(['timer', 'decode']);
  });
});

describe('fromFloat64Async', () => {
  const random = prng(11);
  const values = Float64Array.from({ length: 3 * 65536 + 5 }, () => (random() - 0.5) * 7e4);

  for (const dtype of ['F64', 'F32', 'F16', 'BF16'] as const) {
    it(`rounds ${dtype} values as fromFloat64 does, across its steps`, async () => {
      const stepped = await fromFloat64Async(dtype, [values.length], values);
      expect(bytesOf(stepped).equals(bytesOf(fromFloat64(dtype, [values.length], values)))).toBe(true);
      // Each value as it rounds alone, where no step is involved.
      const got = toFloat64(stepped);
      for (let i = 0; i < values.length; i += 4099) {
        expect(got[i]).toBe(toFloat64(fromFloat64(dtype, [1], Float64Array.of(values[i]!)))[0]);
      }
    });
  }

  it('refuses an integer value out of range, naming it', async () => {
    await expect(fromFloat64Async('U8', [2], Float64Array.of(1, 300))).rejects.toThrow(/value 300 does not fit dtype U8/);
  });
});
