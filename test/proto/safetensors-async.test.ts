import { describe, expect, it } from 'vitest';
import {
  checkSpec,
  checkSpecAsync,
  decodeSafetensors,
  decodeSafetensorsAsync,
  encodeSafetensors,
  parseSafetensorsHeader,
  parseSafetensorsHeaderAsync,
  safetensorsHeaderLength,
  tensor,
  tensorSpecsOf,
  type TensorMap,
  elementCount,
} from '@tributary/proto';
import { prng } from '../helpers/random.js';

// Headers above 64 KiB are read in steps; a header padded with spaces past that size (as writers
// pad to 8 bytes) reaches the stepped reader, whatever its content.
const STEPPED = 70 * 1024;

function padded(header: string | Uint8Array): Buffer {
  const bytes = typeof header === 'string' ? Buffer.from(header, 'utf8') : Buffer.from(header);
  return Buffer.concat([bytes, Buffer.alloc(Math.max(0, STEPPED - bytes.length), 0x20)]);
}

/** What a parse gives: its layout, or the refusal's reason and message. */
async function outcome(parse: () => unknown): Promise<unknown> {
  try {
    return { layout: await parse() };
  } catch (err) {
    const e = err as { reason?: string; message?: string };
    return { reason: e.reason, message: e.message };
  }
}

async function expectSameOutcome(header: Uint8Array, dataLength: number, opts: { maxTensors?: number } = {}): Promise<unknown> {
  const now = await outcome(() => parseSafetensorsHeader(header, dataLength, opts));
  const stepped = await outcome(() => parseSafetensorsHeaderAsync(header, dataLength, opts));
  expect(stepped).toEqual(now);
  // Key order matters too (toEqual ignores it).
  expect(JSON.stringify(stepped)).toBe(JSON.stringify(now));
  return now;
}

const entry = (name: string, at: number, size = 1): string => `${JSON.stringify(name)}:{"dtype":"U8","shape":[${size}],"data_offsets":[${at},${at + size}]}`;

function manyTensors(count: number, shape = [64]): TensorMap {
  const out: TensorMap = {};
  const size = elementCount(shape);
  for (let i = 0; i < count; i++) out[`layer.${i}.weight`] = tensor('F32', shape, new Float32Array(size).fill(i));
  return out;
}

function headerOf(payload: Uint8Array): { header: Uint8Array; dataLength: number } {
  const length = safetensorsHeaderLength(payload, payload.length);
  return { header: payload.subarray(8, 8 + length), dataLength: payload.length - 8 - length };
}

describe('the stepped safetensors header reader', () => {
  it('gives the same layout as the one-step parser for an encoded model of 10,000 tensors', async () => {
    const { header, dataLength } = headerOf(encodeSafetensors(manyTensors(10_000), { framework: 'pt', note: 'ü ✓ 😀' }));
    expect(header.length).toBeGreaterThan(STEPPED);
    const result = (await expectSameOutcome(header, dataLength)) as { layout: { entries: unknown[] } };
    expect(result.layout.entries).toHaveLength(10_000);
  });

  it('gives the same layout for a 16 MiB header of 65,536 tensors', { timeout: 120_000 }, async () => {
    const pad = 256 - 60;
    const entries: string[] = [];
    for (let i = 0; i < 65_536; i++) entries.push(`"${i.toString(36).padStart(pad, '_')}":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}`);
    const header = Buffer.from(`{${entries.join(',')}}`);
    expect(header.length).toBeGreaterThan(16_000_000);
    await expectSameOutcome(header, 0);
  });

  it('gives the same layout for names and values written in every way JSON allows', async () => {
    const header = [
      '{',
      ' "__metadata__" : { "b":"2", "a":"\\u00e9\\n", "1":"one", "__proto__":"p" } ,',
      entry('__proto__', 0), ',',
      entry('7', 1), ',', entry('3', 2), ',', entry('4294967295', 3), ',', entry('01', 4), ',',
      '"na\\"me\\\\ \\/ \\b\\f\\n\\r\\t \\ud83d\\ude00 \\ud800 ü ✓":{"shape":[1e0],"dtype":"U8","data_offsets":[5,6.0],"extra":[true,false,null,{"x":-0.5E+2}]},',
      '"zero":{"dtype":"F32","shape":[0,3],"data_offsets":[6,6]},',
      '"dup-inner":{"dtype":"I32","dtype":"U8","shape":[1],"data_offsets":[6,7]}',
      '\t\r\n}',
    ].join('');
    await expectSameOutcome(padded(header), 7);
  });

  it('keeps the last of two __metadata__ objects, as JSON.parse does', async () => {
    const result = await expectSameOutcome(padded(`{"__metadata__":{"a":"1"},${entry('t', 0)},"__metadata__":{"b":"2"}}`), 1);
    expect(result).toMatchObject({ layout: { metadata: { b: '2' } } });
  });

  it('skips a byte order mark before the JSON, as the one-step parser does', async () => {
    await expectSameOutcome(padded(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`{${entry('t', 0)}}`)])), 1);
  });

  const malformed: Array<[string, string | Uint8Array, number?, number?]> = [
    ['bad JSON', '{"t": {'],
    ['a trailing comma', `{${entry('t', 0)},}`],
    ['single quotes', "{'t': 1}"],
    ['a number with a leading zero', '{"t": 01}'],
    ['a number ending in a point', '{"t": 1.}'],
    ['a number starting with a point', '{"t": .5}'],
    ['a number with a plus sign', '{"t": +1}'],
    ['a bare exponent', '{"t": 1e}'],
    ['NaN', '{"t": NaN}'],
    ['an unterminated string', '{"t'],
    ['a raw control character in a string', '{"t\u0001": 1}'],
    ['an unknown escape', '{"t\\x41": 1}'],
    ['a short unicode escape', '{"t\\u12": 1}'],
    ['a missing colon', '{"t" 1}'],
    ['a missing comma', `{${entry('a', 0)} ${entry('b', 1)}}`],
    ['two top-level values', `{${entry('t', 0)}} {}`],
    ['a truncated literal', '{"t": tru}'],
    ['a key that is not a string', '{1: 2}'],
    ['deeply nested arrays', `{"t": ${'['.repeat(5000)}${']'.repeat(5000)}}`],
    ['an empty header', ''],
    ['a header that is an array', '[]'],
    ['an array of strings naming one twice', '["x", "a", "a"]'],
    ['an array of strings beyond the tensor limit', '["x", "a", "b", "c"]', 0, 2],
    ['a header that is a number', '42'],
    ['a header that is null', 'null'],
    ['a header that is a string', '"hi"'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])],
    ['an overlong UTF-8 encoding', Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d])],
    ['a tensor named twice', `{${entry('a', 0)},${entry('b', 1)},${entry('a', 2)}}`, 3],
    ['a name written twice, once with escapes', `{${entry('a', 0)},"\\u0061":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2],
    ['more tensors than allowed', `{${entry('a', 0)},${entry('b', 1)},${entry('c', 2)}}`, 3, 2],
    ['more tensors than allowed, then bad JSON', `{${entry('a', 0)},${entry('b', 1)},${entry('c', 2)},`, 3, 2],
    ['bad JSON, then more tensors than allowed', `{${entry('a', 0)},]${entry('b', 1)},${entry('c', 2)}}`, 3, 2],
    ['a tensor named twice in invalid JSON', `{${entry('a', 0)},${entry('a', 1)},`, 2],
    ['a tensor entry that is not an object', '{"t": 5}'],
    ['an unknown dtype', '{"t":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}', 4],
    ['a missing dtype', '{"t":{"shape":[4],"data_offsets":[0,4]}}', 4],
    ['a negative dimension', '{"t":{"dtype":"U8","shape":[-1],"data_offsets":[0,4]}}', 4],
    ['a fractional dimension', '{"t":{"dtype":"U8","shape":[0.5],"data_offsets":[0,4]}}', 4],
    ['offsets that are not a pair', '{"t":{"dtype":"U8","shape":[4],"data_offsets":[0]}}', 4],
    ['offsets past the end of the data', '{"t":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}', 4],
    ['offsets in reverse', '{"t":{"dtype":"U8","shape":[4],"data_offsets":[4,0]}}', 4],
    ['a byte size not matching the shape', '{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', 4],
    ['an element count overflowing', '{"t":{"dtype":"U8","shape":[9007199254740991,9007199254740991],"data_offsets":[0,4]}}', 4],
    ['overlapping tensors', `{${entry('a', 0, 2)},${entry('b', 1, 2)}}`, 3],
    ['a gap between tensors', `{${entry('a', 0)},${entry('b', 2)}}`, 3],
    ['data not starting at offset 0', `{${entry('a', 1)}}`, 2],
    ['trailing bytes no tensor covers', `{${entry('a', 0)}}`, 2],
    ['metadata that is not a string map', `{"__metadata__":{"a":1},${entry('t', 0)}}`, 1],
    ['metadata that is an array', `{"__metadata__":[],${entry('t', 0)}}`, 1],
    ['metadata that is a string', `{"__metadata__":"x",${entry('t', 0)}}`, 1],
    ['a bad tensor before bad metadata', `{"t":5,"__metadata__":"x"}`],
    ['a bad index-named tensor after bad metadata', `{"__metadata__":"x","0":5}`],
  ];
  for (const [what, header, dataLength = 0, maxTensors] of malformed) {
    it(`refuses ${what} with the one-step parser's reason and message`, async () => {
      const result = await expectSameOutcome(padded(header), dataLength, maxTensors === undefined ? {} : { maxTensors });
      expect(result).toMatchObject({ reason: expect.stringMatching(/^(MALFORMED_PAYLOAD|SCHEMA_MISMATCH)$/) });
    });
  }

  it('agrees with the one-step parser on thousands of corrupted headers', { timeout: 120_000 }, async () => {
    const random = prng(19);
    const base = Buffer.from(
      `{"__metadata__":{"k":"v\\n"},${entry('a', 0, 2)},${entry('b\\u00e9', 2)},"c":{"dtype":"F32","shape":[1,1],"data_offsets":[3,7]},"0":{"dtype":"U8","shape":[],"data_offsets":[7,8]}}`,
    );
    const alphabet = Buffer.from('{}[]:,"\\ 0123456789-+.eEtrufalsn\u00e9x');
    for (let n = 0; n < 2000; n++) {
      const bytes = Buffer.from(base);
      const edits = 1 + Math.floor(random() * 3);
      let mutated = bytes;
      for (let k = 0; k < edits; k++) {
        const at = Math.floor(random() * mutated.length);
        const b = alphabet[Math.floor(random() * alphabet.length)] as number;
        const kind = random();
        mutated =
          kind < 0.4
            ? Buffer.concat([mutated.subarray(0, at), Buffer.from([b]), mutated.subarray(at + 1)])
            : kind < 0.7
              ? Buffer.concat([mutated.subarray(0, at), mutated.subarray(at + 1)])
              : Buffer.concat([mutated.subarray(0, at), Buffer.from([b]), mutated.subarray(at)]);
      }
      const header = padded(mutated);
      const now = await outcome(() => parseSafetensorsHeader(header, 8));
      const stepped = await outcome(() => parseSafetensorsHeaderAsync(header, 8));
      expect(JSON.stringify(stepped), mutated.toString('utf8')).toBe(JSON.stringify(now));
    }
  });

  it('lets timers run between its steps while it reads a large header', { timeout: 60_000 }, async () => {
    const { header, dataLength } = headerOf(encodeSafetensors(manyTensors(20_000, [1])));
    const order: string[] = [];
    const parsed = parseSafetensorsHeaderAsync(header, dataLength).then(() => order.push('parsed'));
    setTimeout(() => order.push('timer'), 0);
    await parsed;
    expect(order).toEqual(['timer', 'parsed']);
  });
});

describe('stepped decoding and spec checks', () => {
  it('decodes the same tensors and metadata as the one-step decoder', async () => {
    const payload = encodeSafetensors(manyTensors(5_000, [2, 3]), { a: 'b' });
    expect(await decodeSafetensorsAsync(payload)).toEqual(decodeSafetensors(payload));
  });

  it('decodes with a layout already read, without reading the header again', async () => {
    const payload = encodeSafetensors(manyTensors(3, [2]));
    const { header, dataLength } = headerOf(payload);
    const layout = parseSafetensorsHeader(header, dataLength);
    // The header bytes are spoiled: only the given layout can lead to the tensors.
    const spoiled = Buffer.from(payload);
    spoiled.fill(0x20, 8, 8 + header.length);
    expect((await decodeSafetensorsAsync(spoiled, { layout })).tensors).toEqual(decodeSafetensors(payload).tensors);
  });

  it('refuses a layout that does not fit the bytes', async () => {
    const payload = encodeSafetensors(manyTensors(3, [2]));
    const { header, dataLength } = headerOf(payload);
    const layout = parseSafetensorsHeader(header, dataLength);
    await expect(decodeSafetensorsAsync(payload.subarray(0, payload.length - 4), { layout })).rejects.toMatchObject({ reason: 'MALFORMED_PAYLOAD' });
  });

  it('checks a spec of many tensors with the same verdicts as the one-step check', async () => {
    const spec = tensorSpecsOf(manyTensors(10_000, [1]));
    const wrongShape = spec.map((t, i) => (i === 9_000 ? { ...t, shape: [2] } : t));
    const missing = spec.slice(1);
    const extra = [...spec, { name: 'more', dtype: 'F32', shape: [1] }];
    for (const actual of [spec, wrongShape, missing, extra, [...spec, spec[5]!]]) {
      expect(await checkSpecAsync(spec, actual)).toBe(checkSpec(spec, actual));
    }
    expect(await checkSpecAsync(spec, wrongShape)).toMatch(/has shape \[2\], expected \[1\]/);
  });
});
