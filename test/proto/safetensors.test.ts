import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  allFinite,
  checkSpec,
  decodeSafetensors,
  encodeSafetensors,
  fromFloat64,
  isTributaryError,
  parseSafetensorsHeader,
  sha256Hex,
  tensor,
  tensorSpecsOf,
  toFloat64,
  type DType,
  type TensorData,
  type TensorMap,
} from '@tributary/proto';
import { caught } from '../helpers/errors.js';

const values = (d: TensorData | undefined): (number | bigint)[] => (d === undefined ? [] : Array.from(d as ArrayLike<number | bigint>));

function expectMalformed(bytes: Uint8Array): void {
  const err = caught(() => decodeSafetensors(bytes));
  expect(isTributaryError(err), String(err)).toBe(true);
  expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'MALFORMED_PAYLOAD' });
}

/** A payload with a hand-written header (no padding) followed by `data`. */
function rawPayload(header: unknown, data: Uint8Array = new Uint8Array(0)): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  out.set(data, 8 + json.length);
  return out;
}

function sampleModel(): TensorMap {
  return {
    f32: tensor('F32', [2, 3], Float32Array.from([1.5, -2, 3.25, 0, -0, 1e-30])),
    f64: tensor('F64', [3], Float64Array.from([Math.PI, -1e300, 5e-324])),
    f16: fromFloat64('F16', [2, 2], Float64Array.from([1, -2, 0.5, 65504])),
    bf16: fromFloat64('BF16', [3], Float64Array.from([1, -3.5, 1e38])),
    i32: tensor('I32', [4], Int32Array.from([0, -1, 2147483647, -2147483648])),
    i64: tensor('I64', [2], BigInt64Array.from([9007199254740993n, -9223372036854775808n])),
    u8: tensor('U8', [5], Uint8Array.from([0, 1, 127, 128, 255])),
    scalar: tensor('F32', [], Float32Array.from([42])),
    empty: tensor('F64', [0, 3], new Float64Array(0)),
  };
}

describe('safetensors codec', () => {
  it('round-trips every dtype, scalars, empty tensors and metadata', () => {
    const model = sampleModel();
    const bytes = encodeSafetensors(model, { format: 'pt', note: 'ünïcode' });
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect(Object.keys(tensors)).toEqual(Object.keys(model));
    for (const [name, t] of Object.entries(model)) {
      const got = tensors[name];
      expect(got?.dtype).toBe(t.dtype);
      expect(got?.shape).toEqual(t.shape);
      expect(got?.data.constructor).toBe(t.data.constructor);
      expect(values(got?.data)).toEqual(values(t.data));
    }
    expect(Object.is(tensors['f32']?.data[4], -0)).toBe(true);
  });

  it('decodes to views over the payload, without copies, when asked and the data is aligned', () => {
    const model = sampleModel();
    const bytes = encodeSafetensors(model);
    const { tensors } = decodeSafetensors(bytes, { view: true });
    for (const [name, t] of Object.entries(model)) {
      expect(tensors[name]?.data.constructor).toBe(t.data.constructor);
      expect(values(tensors[name]?.data)).toEqual(values(t.data));
    }
    const f32 = tensors['f32']!.data;
    expect(f32.buffer).toBe(bytes.buffer);
  });

  it('decodes unaligned tensor data as copies even when views are asked for', () => {
    const bytes = encodeSafetensors({ w: tensor('F32', [3], new Float32Array([1, 2, 3])) });
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    const { tensors } = decodeSafetensors(shifted, { view: true });
    expect(Array.from(tensors['w']!.data as Float32Array)).toEqual([1, 2, 3]);
    expect(tensors['w']!.data.buffer).not.toBe(shifted.buffer);
  });

  it('pads the header to a multiple of 8 bytes with spaces', () => {
    const bytes = encodeSafetensors({ a: tensor('U8', [1], Uint8Array.from([7])) });
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = bytes.subarray(8, 8 + n).toString('utf8');
    expect(header.trimEnd()).toBe('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}');
    expect(header.slice(header.trimEnd().length)).toMatch(/^ *$/);
  });

  it('omits __metadata__ when there is none and decodes it as empty', () => {
    const bytes = encodeSafetensors({ a: tensor('U8', [1], Uint8Array.from([7])) });
    expect(bytes.toString('utf8')).not.toContain('__metadata__');
    expect(decodeSafetensors(bytes).metadata).toEqual({});
  });

  it('decodes from an unaligned view into aligned arrays that do not share the input', () => {
    const bytes = encodeSafetensors(sampleModel());
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const view = shifted.subarray(3);
    const { tensors } = decodeSafetensors(view);
    expect(values(tensors['f64']?.data)).toEqual([Math.PI, -1e300, 5e-324]);
    const f32 = tensors['f32']?.data as Float32Array;
    expect(f32.byteOffset % 4).toBe(0);
    shifted.fill(0);
    expect(f32[0]).toBe(1.5);
  });

  it('keeps file order (by data offset) and accepts headers written without padding in any key order', () => {
    const data = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    const header = '{"__metadata__":{"k":"v"},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const { tensors, metadata } = decodeSafetensors(rawPayload(header, data));
    expect(Object.keys(tensors)).toEqual(['a', 'b']);
    expect(values(tensors['a']?.data)).toEqual([1, 2]);
    expect(values(tensors['b']?.data)).toEqual([3]);
    expect(metadata).toEqual({ k: 'v' });
  });

  it('treats "__proto__" as an ordinary tensor name', () => {
    const header = '{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
    const { tensors } = decodeSafetensors(rawPayload(header, Uint8Array.from([9])));
    expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
    expect(Object.keys(tensors)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(tensors, '__proto__')?.value.data[0]).toBe(9);
  });

  it('checks tensors on construction', () => {
    expect(() => tensor('F32', [2], new Float32Array(3))).toThrow(/holds 2 values/);
    expect(() => tensor('F32', [2], new Float64Array(2))).toThrow(/Float32Array/);
    expect(() => tensor('F16', [1], new Float32Array(1))).toThrow(/Uint16Array/);
    expect(() => tensor('F32', [-1], new Float32Array(0))).toThrow(/invalid shape/);
    expect(() => tensor('X' as DType, [1], new Float32Array(1))).toThrow(/unsupported dtype/);
    expect(() => encodeSafetensors({ __metadata__: tensor('U8', [0], new Uint8Array(0)) })).toThrow(/__metadata__/);
  });

  describe('refuses malformed payloads with MALFORMED_PAYLOAD', () => {
    const oneTensor = (entry: unknown, data = new Uint8Array(4)): Buffer => rawPayload({ t: entry }, data);
    const f32 = (offsets: unknown, shape: unknown = [1]): unknown => ({ dtype: 'F32', shape, data_offsets: offsets });

    it('shorter than the length prefix', () => expectMalformed(new Uint8Array(5)));
    it('header length larger than the buffer', () => {
      const b = rawPayload({});
      b.writeBigUInt64LE(BigInt(b.length), 0);
      expectMalformed(b);
    });
    it('header length near 2^64', () => {
      const b = rawPayload({});
      b.writeBigUInt64LE(0xffff_ffff_ffff_ffffn, 0);
      expectMalformed(b);
    });
    it('bad JSON', () => expectMalformed(rawPayload('{"t": {')));
    it('invalid UTF-8 in the header', () => {
      const b = rawPayload('{"x":1}');
      b[10] = 0xff;
      expectMalformed(b);
    });
    it('a header that is an array', () => expectMalformed(rawPayload([])));
    it('a header that is a number', () => expectMalformed(rawPayload('42')));
    it('a header that is null', () => expectMalformed(rawPayload('null')));
    it('a header that is a string', () => expectMalformed(rawPayload('"hi"')));
    it('a tensor entry that is not an object', () => expectMalformed(oneTensor(5)));
    it('an unknown dtype', () => expectMalformed(oneTensor({ dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] })));
    it('a missing dtype', () => expectMalformed(oneTensor({ shape: [4], data_offsets: [0, 4] })));
    it('a negative dimension', () => expectMalformed(oneTensor(f32([0, 4], [-1]))));
    it('a fractional dimension', () => expectMalformed(oneTensor(f32([0, 4], [0.5]))));
    it('a shape that is not an array', () => expectMalformed(oneTensor(f32([0, 4], 1))));
    it('offsets that are not a pair', () => expectMalformed(oneTensor(f32([0]))));
    it('offsets past the end of the data', () => expectMalformed(oneTensor(f32([0, 8], [2]))));
    it('offsets in reverse', () => expectMalformed(oneTensor(f32([4, 0]))));
    it('negative offsets', () => expectMalformed(oneTensor(f32([-4, 0]))));
    it('byte size not matching the shape', () => expectMalformed(oneTensor(f32([0, 4], [2]))));
    it('element count overflowing', () =>
      expectMalformed(oneTensor(f32([0, 4], [2 ** 30, 2 ** 30, 2 ** 30]))));
    it('overlapping tensors', () =>
      expectMalformed(rawPayload({ a: f32([0, 4]), b: f32([0, 4]) }, new Uint8Array(4))));
    it('partly overlapping tensors', () =>
      expectMalformed(rawPayload({ a: f32([0, 8], [2]), b: f32([4, 12], [2]) }, new Uint8Array(12))));
    it('a gap between tensors', () =>
      expectMalformed(rawPayload({ a: f32([0, 4]), b: f32([8, 12]) }, new Uint8Array(12))));
    it('data not starting at offset 0', () => expectMalformed(rawPayload({ a: f32([4, 8]) }, new Uint8Array(8))));
    it('trailing bytes no tensor covers', () => expectMalformed(oneTensor(f32([0, 4]), new Uint8Array(6))));
    it('metadata that is not a string map', () =>
      expectMalformed(rawPayload({ __metadata__: { n: 1 }, a: f32([0, 4]) }, new Uint8Array(4))));
    it('metadata that is an array', () => expectMalformed(rawPayload({ __metadata__: [] })));

    it('never throws anything else on corrupted or truncated payloads', () => {
      const good = encodeSafetensors(sampleModel(), { a: 'b' });
      let seed = 12345;
      const random = (): number => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      for (let i = 0; i < 3000; i++) {
        const bad = Buffer.from(good);
        const flips = 1 + Math.floor(random() * 4);
        for (let j = 0; j < flips; j++) bad[Math.floor(random() * bad.length)] = Math.floor(random() * 256);
        const cut = random() < 0.3 ? bad.subarray(0, Math.floor(random() * bad.length)) : bad;
        try {
          decodeSafetensors(cut);
        } catch (err) {
          // A flipped byte may also rename a tensor into a duplicate of another.
          expect(['MALFORMED_PAYLOAD', 'SCHEMA_MISMATCH']).toContain((err as { reason?: string }).reason);
        }
      }
    });
  });
});

describe('F16 and BF16 conversions', () => {
  const f16 = (v: number): number => fromFloat64('F16', [], Float64Array.of(v)).data[0] as number;
  const bf16 = (v: number): number => fromFloat64('BF16', [], Float64Array.of(v)).data[0] as number;
  const fromF16 = (bits: number): number => toFloat64(tensor('F16', [], Uint16Array.of(bits)))[0] as number;
  const fromBf16 = (bits: number): number => toFloat64(tensor('BF16', [], Uint16Array.of(bits)))[0] as number;

  it('encodes known F16 values', () => {
    expect(f16(1)).toBe(0x3c00);
    expect(f16(-2)).toBe(0xc000);
    expect(f16(0.1)).toBe(0x2e66);
    expect(f16(65504)).toBe(0x7bff);
    expect(f16(65520)).toBe(0x7c00); // halfway to 65536 ties to even: overflows
    expect(f16(2 ** -24)).toBe(0x0001);
    expect(f16(2 ** -25)).toBe(0x0000); // tie to even (zero)
    expect(f16(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 subnormal steps
    expect(f16(-0)).toBe(0x8000);
    expect(f16(Infinity)).toBe(0x7c00);
    expect(f16(-Infinity)).toBe(0xfc00);
    expect(fromF16(f16(NaN))).toBeNaN();
  });

  it('matches numpy on random values and exact ties', () => {
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/f16-reference.json', import.meta.url), 'utf8')) as {
      pairs: [number, number][];
    };
    expect(fixture.pairs.length).toBeGreaterThan(600);
    for (const [value, bits] of fixture.pairs) expect([value, f16(value)]).toEqual([value, bits]);
  });

  it('encodes known BF16 values', () => {
    expect(bf16(1)).toBe(0x3f80);
    expect(bf16(-2)).toBe(0xc000);
    expect(bf16(0.1)).toBe(0x3dcd);
    expect(bf16(1 + 2 ** -8)).toBe(0x3f80); // tie to even
    expect(bf16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie to even (up)
    expect(bf16(1 + 2 ** -8 + 2 ** -40)).toBe(0x3f81); // just above the tie: no double rounding
    expect(bf16(3.4e38)).toBe(0x7f80); // beyond the largest BF16: infinity
    expect(bf16(2 ** -133)).toBe(0x0001);
    expect(bf16(-Infinity)).toBe(0xff80);
  });

  it('decodes every finite F16 and BF16 pattern and re-encodes it to the same bits', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const isNaN16 = (bits & 0x7c00) === 0x7c00 && (bits & 0x03ff) !== 0;
      const isNaNb = (bits & 0x7f80) === 0x7f80 && (bits & 0x007f) !== 0;
      const h = fromF16(bits);
      if (isNaN16) expect(h).toBeNaN();
      else if (f16(h) !== bits) expect([bits, f16(h)]).toEqual([bits, bits]);
      const b = fromBf16(bits);
      if (isNaNb) expect(b).toBeNaN();
      else if (bf16(b) !== bits) expect([bits, bf16(b)]).toEqual([bits, bits]);
    }
  });

  it('agrees with float32 for BF16 (upper half of the float32 bits)', () => {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (const v of [1.5, -7.25, 1e-20, 123456.789, 3.0e38]) {
      f[0] = v;
      expect(fromBf16(u[0]! >>> 16)).toBe(Math.fround(fromBf16(u[0]! >>> 16)));
      expect(Math.abs(fromBf16(bf16(v)) - v) / Math.abs(v)).toBeLessThan(2 ** -8);
    }
  });
});

describe('float64 views', () => {
  it('converts every dtype to float64 and back', () => {
    const inputs = Float64Array.from([0, 1, 2, 100, 255]);
    for (const dtype of ['F32', 'F64', 'F16', 'BF16', 'I32', 'I64', 'U8'] as DType[]) {
      const t = fromFloat64(dtype, [5], inputs);
      expect(t.dtype).toBe(dtype);
      expect(Array.from(toFloat64(t))).toEqual(Array.from(inputs));
    }
  });

  it('rounds for integer dtypes, half to even', () => {
    expect(values(fromFloat64('I32', [4], Float64Array.from([1.4, 1.5, 2.5, -2.5])).data)).toEqual([1, 2, 2, -2]);
    expect(values(fromFloat64('I64', [2], Float64Array.from([3.6, -3.6])).data)).toEqual([4n, -4n]);
  });

  it('refuses integer values that do not fit', () => {
    expect(() => fromFloat64('U8', [1], Float64Array.of(256))).toThrow(/does not fit/);
    expect(() => fromFloat64('U8', [1], Float64Array.of(-1))).toThrow(/does not fit/);
    expect(() => fromFloat64('I32', [1], Float64Array.of(2 ** 31))).toThrow(/does not fit/);
    expect(() => fromFloat64('I64', [1], Float64Array.of(2 ** 63))).toThrow(/does not fit/);
    expect(() => fromFloat64('I32', [1], Float64Array.of(NaN))).toThrow(/does not fit/);
    expect(() => fromFloat64('F32', [2], Float64Array.of(1))).toThrow(/holds 2 values/);
  });

  it('tells finite tensors from those with NaN or infinity', () => {
    expect(allFinite(tensor('F32', [2], Float32Array.from([1, 2])))).toBe(true);
    expect(allFinite(tensor('F32', [2], Float32Array.from([1, NaN])))).toBe(false);
    expect(allFinite(tensor('F64', [1], Float64Array.of(-Infinity)))).toBe(false);
    expect(allFinite(fromFloat64('F16', [2], Float64Array.from([1, 65504])))).toBe(true);
    expect(allFinite(fromFloat64('F16', [1], Float64Array.of(1e6)))).toBe(false);
    expect(allFinite(fromFloat64('BF16', [1], Float64Array.of(NaN)))).toBe(false);
    expect(allFinite(tensor('I32', [1], Int32Array.of(5)))).toBe(true);
  });
});

describe('tensor specs', () => {
  const spec = [
    { name: 'w', dtype: 'F32', shape: [2, 3] },
    { name: 'b', dtype: 'F32', shape: [3] },
  ];

  it('lists name, dtype and shape in map order', () => {
    const model = { w: tensor('F32', [2, 3], new Float32Array(6)), b: tensor('F32', [3], new Float32Array(3)) };
    expect(tensorSpecsOf(model)).toEqual(spec);
    expect(checkSpec(spec, tensorSpecsOf(model))).toBeUndefined();
  });

  it('ignores order and names the first difference', () => {
    expect(checkSpec(spec, [spec[1]!, spec[0]!])).toBeUndefined();
    expect(checkSpec(spec, [spec[0]!])).toBe('missing tensor "b"');
    expect(checkSpec(spec, [...spec, { name: 'x', dtype: 'F32', shape: [] }])).toBe('unexpected tensor "x"');
    expect(checkSpec(spec, [{ ...spec[0]!, dtype: 'F64' }, spec[1]!])).toBe('tensor "w" has dtype F64, expected F32');
    expect(checkSpec(spec, [{ ...spec[0]!, shape: [3, 2] }, spec[1]!])).toBe('tensor "w" has shape [3, 2], expected [2, 3]');
    expect(checkSpec(spec, [...spec, spec[0]!])).toBe('duplicate tensor "w"');
  });

  it('hashes with SHA-256', () => {
    expect(sha256Hex(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('safetensors headers a reader refuses while scanning them', () => {
  const header = (entries: string[]): Uint8Array => new TextEncoder().encode(`{${entries.join(',')}}`);
  const entry = (name: string, at: number): string => `${JSON.stringify(name)}:{"dtype":"U8","shape":[1],"data_offsets":[${at},${at + 1}]}`;

  it('refuses a tensor named twice with SCHEMA_MISMATCH', () => {
    const err = caught(() => parseSafetensorsHeader(header([entry('a', 0), entry('b', 1), entry('a', 2)]), 3));
    expect(err).toMatchObject({ reason: 'SCHEMA_MISMATCH' });
  });

  it('sees a name written with escapes as the same name', () => {
    const err = caught(() => parseSafetensorsHeader(header([entry('a', 0), '"\\u0061":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}']), 2));
    expect(err).toMatchObject({ reason: 'SCHEMA_MISMATCH' });
  });

  it('refuses more tensors than the reader allows with SCHEMA_MISMATCH', () => {
    const err = caught(() => parseSafetensorsHeader(header([entry('a', 0), entry('b', 1), entry('c', 2)]), 3, { maxTensors: 2 }));
    expect(err).toMatchObject({ reason: 'SCHEMA_MISMATCH' });
  });

  it('does not count __metadata__ or keys nested in entries as tensors', () => {
    const layout = parseSafetensorsHeader(header(['"__metadata__":{"a":"x","b":"y"}', entry('a', 0), entry('b', 1)]), 2, { maxTensors: 2 });
    expect(layout.entries.map((e) => e.name)).toEqual(['a', 'b']);
  });
});
