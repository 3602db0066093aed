import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, fromBigInt64, fromFloat32, tensor, toBigInt64, toFloat32 } from '@tributary/client-sdk';

describe('toFloat32 and fromFloat32', () => {
  it('gives the float32 values of F16 bit patterns, subnormals and infinities included', () => {
    // 1, -2, 65504 (largest F16), 2^-24 (smallest subnormal), +Infinity, 0.1 rounded to F16.
    const t = tensor('F16', [6], new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x2e66]));
    expect([...toFloat32(t)]).toEqual([1, -2, 65504, 2 ** -24, Infinity, Math.fround(0.0999755859375)]);
  });

  it('gives the float32 values of BF16 bit patterns: the upper half of the float32 bits', () => {
    // Values with at most 8 significant bits, which BF16 holds exactly.
    const values = new Float32Array([1.5, -3.140625, 2 ** 100, 0]);
    const bits = new Uint16Array(new Uint32Array(values.buffer).map((b) => b >>> 16));
    expect(toFloat32(tensor('BF16', [4], bits))).toEqual(values);
  });

  it('round-trips F16 and BF16 values exactly through float32', () => {
    for (const dtype of ['F16', 'BF16'] as const) {
      const bits = new Uint16Array(4096).map((_, i) => (i * 16) & 0x7bff);
      const back = fromFloat32(dtype, [bits.length], toFloat32(tensor(dtype, [bits.length], bits)));
      expect(back.data).toEqual(bits);
    }
  });

  it('rounds float32 to F16 to nearest, ties to even', () => {
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: it goes to the even 1.
    expect(fromFloat32('F16', [2], new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11])).data).toEqual(new Uint16Array([0x3c00, 0x3c02]));
  });

  it('refuses integer and F64 tensors, pointing to the right helper', () => {
    expect(() => toFloat32(tensor('I64', [1], new BigInt64Array([1n])))).toThrow(/toFloat32 takes F16, BF16 or F32 tensors, not I64: use toFloat64/);
    expect(() => toFloat32(tensor('F64', [1], new Float64Array([1])))).toThrow(/not F64/);
  });
});

describe('toBigInt64 and fromBigInt64', () => {
  it('keeps I64 values beyond 2^53 exact through arithmetic and the safetensors codec', () => {
    const big = 2n ** 62n + 1n;
    const t = tensor('I64', [2], new BigInt64Array([big, -big]));
    const values = toBigInt64(decodeSafetensors(encodeSafetensors({ t })).tensors['t']!);
    const sum = values.map((v) => v + 1n);
    expect([...sum]).toEqual([big + 1n, -big + 1n]);
    // The same through float64 would have rounded away the +1.
    expect(BigInt(Number(big)) === big).toBe(false);
    expect([...fromBigInt64('I64', [2], sum).data]).toEqual([big + 1n, -big + 1n]);
  });

  it('widens I32 and U8 values to BigInt', () => {
    expect([...toBigInt64(tensor('I32', [2], new Int32Array([-(2 ** 31), 7])))]).toEqual([-(2n ** 31n), 7n]);
    expect([...toBigInt64(tensor('U8', [1], new Uint8Array([255])))]).toEqual([255n]);
  });

  it('refuses a value that does not fit the dtype, naming it and its index, instead of wrapping around', () => {
    expect(() => fromBigInt64('I32', [2], new BigInt64Array([1n, 2n ** 31n]))).toThrow('value 2147483648 at index 1 does not fit dtype I32');
    expect(() => fromBigInt64('U8', [1], new BigInt64Array([-1n]))).toThrow('value -1 at index 0 does not fit dtype U8');
  });

  it('refuses float tensors', () => {
    expect(() => toBigInt64(tensor('F32', [1], new Float32Array([1])))).toThrow(/toBigInt64 takes integer tensors \(I64, I32, U8\), not F32/);
  });
});
