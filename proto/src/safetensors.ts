import { isUtf8 } from 'node:buffer';
import { pauseAt, runAtOnce, runCooperatively, sortSteps, type Steps } from './cooperative.js';
import { Reason, TributaryError } from './errors.js';
import { readHeaderJson, setOwn, utf8Text } from './header-json.js';
import type { TensorSpec__Output } from './generated/tributary/v1/TensorSpec.js';
export { sha256Hex, sha256HexOfParts } from './encoding.js';
import { checkedElementCount } from './tensor-shape.js';

/** Safetensors dtypes Tributary reads and writes. */
export type DType = 'F32' | 'F64' | 'F16' | 'BF16' | 'I32' | 'I64' | 'U8';

/** Tensor values; F16 and BF16 are kept as their raw 16-bit patterns. */
export type TensorData = Float32Array | Float64Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;

export interface Tensor {
  dtype: DType;
  /** Dimensions; empty for a scalar. */
  shape: number[];
  /** Row-major values, product(shape) of them. */
  data: TensorData;
}

/** Tensors by name; insertion order is file order. */
export type TensorMap = Record<string, Tensor>;

interface DTypeInfo {
  readonly bytes: number;
  readonly create: (length: number) => TensorData;
  readonly view: (buffer: ArrayBufferLike, byteOffset: number, length: number) => TensorData;
  readonly accepts: (data: TensorData) => boolean;
}

const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  F32: { bytes: 4, create: (n) => new Float32Array(n), view: (b, o, n) => new Float32Array(b, o, n), accepts: (d) => d instanceof Float32Array },
  F64: { bytes: 8, create: (n) => new Float64Array(n), view: (b, o, n) => new Float64Array(b, o, n), accepts: (d) => d instanceof Float64Array },
  F16: { bytes: 2, create: (n) => new Uint16Array(n), view: (b, o, n) => new Uint16Array(b, o, n), accepts: (d) => d instanceof Uint16Array },
  BF16: { bytes: 2, create: (n) => new Uint16Array(n), view: (b, o, n) => new Uint16Array(b, o, n), accepts: (d) => d instanceof Uint16Array },
  I32: { bytes: 4, create: (n) => new Int32Array(n), view: (b, o, n) => new Int32Array(b, o, n), accepts: (d) => d instanceof Int32Array },
  I64: { bytes: 8, create: (n) => new BigInt64Array(n), view: (b, o, n) => new BigInt64Array(b, o, n), accepts: (d) => d instanceof BigInt64Array },
  U8: { bytes: 1, create: (n) => new Uint8Array(n), view: (b, o, n) => new Uint8Array(b, o, n), accepts: (d) => d instanceof Uint8Array },
};

/** Every supported dtype, in a stable order. */
export const DTYPE_NAMES: readonly DType[] = ['F32', 'F64', 'F16', 'BF16', 'I32', 'I64', 'U8'];

export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, s);
}

/** Bytes per element of a dtype. */
export function dtypeSize(dtype: DType): number {
  return DTYPES[dtype].bytes;
}

// The parser's sanity cap on header size, as in the reference implementation.
const MAX_HEADER_BYTES = 100_000_000;
/**
 * Tensors a header may list unless the reader says otherwise: far more than any model has
 * (large language models have a few thousand), far fewer than a header of zero-size tensors can
 * name, so such a header is refused while it is read, before its entries are built.
 */
export const MAX_SAFETENSORS_TENSORS = 65_536;
const METADATA_KEY = '__metadata__';

// Typed arrays use the host byte order; safetensors is little-endian.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function assertLittleEndianHost(): void {
  if (!HOST_IS_LITTLE_ENDIAN) {
    throw TributaryError.of(Reason.INTERNAL, 'safetensors codec needs a little-endian host', { code: 'UNIMPLEMENTED' });
  }
}

/** Builds a tensor, checking the array type against the dtype and its length against the shape. */
export function tensor(dtype: DType, shape: readonly number[], data: TensorData): Tensor {
  if (!isDType(dtype)) throw TributaryError.invalidArgument(`unsupported dtype ${JSON.stringify(dtype)}; expected one of ${DTYPE_NAMES.join(', ')}`);
  const count = checkedElementCount(shape);
  if (count === undefined) throw TributaryError.invalidArgument(`invalid shape ${JSON.stringify(shape)}: dimensions must be non-negative integers`);
  if (!DTYPES[dtype].accepts(data)) throw TributaryError.invalidArgument(`${dtype} data must be a ${DTYPES[dtype].create(0).constructor.name}`);
  if (data.length !== count) {
    throw TributaryError.invalidArgument(`shape ${formatShape(shape)} holds ${count} values but the data has ${data.length}`);
  }
  return { dtype, shape: [...shape], data };
}

/** Encodes tensors (in map order) as a safetensors payload; the header is padded to 8 bytes. */
export function encodeSafetensors(t: TensorMap, metadata?: Record<string, string>): Buffer {
  const { parts, size } = safetensorsParts(t, metadata);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A safetensors file as its pieces, in order: the length prefix and padded header, then every
 * tensor's bytes as a view of its data (no copy), and their total size. Lets a writer hash and
 * store a large model without one buffer of the whole file.
 */
export function safetensorsParts(t: TensorMap, metadata?: Record<string, string>): { parts: Uint8Array[]; size: number } {
  assertLittleEndianHost();
  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw TributaryError.invalidArgument(`metadata ${JSON.stringify(k)} must be a string`);
      setOwn(meta, k, v);
    }
    setOwn(header, METADATA_KEY, meta);
  }
  const data: Uint8Array[] = [];
  let offset = 0;
  for (const [name, value] of Object.entries(t)) {
    if (name === METADATA_KEY) throw TributaryError.invalidArgument(`"${METADATA_KEY}" cannot name a tensor`);
    const checked = tensor(value.dtype, value.shape, value.data);
    const bytes = new Uint8Array(checked.data.buffer, checked.data.byteOffset, checked.data.byteLength);
    setOwn(header, name, { dtype: checked.dtype, shape: checked.shape, data_offsets: [offset, offset + bytes.length] });
    data.push(bytes);
    offset += bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const headerLength = Math.ceil(json.length / 8) * 8;
  const head = Buffer.allocUnsafe(8 + headerLength);
  head.writeBigUInt64LE(BigInt(headerLength), 0);
  json.copy(head, 8);
  head.fill(0x20, 8 + json.length, 8 + headerLength);
  return { parts: [head, ...data], size: head.length + offset };
}

/** One tensor's place in a safetensors data section: bytes [begin, end) after the header. */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

interface HeaderEntry extends SafetensorsEntry {
  order: number;
}

/** What a safetensors header says: its tensors in data order, and its `__metadata__`. */
export interface SafetensorsLayout {
  /** Bytes before the data section (8 + header length). */
  readonly dataStart: number;
  /** Sorted by `begin`; together they cover the data section exactly. */
  readonly entries: readonly SafetensorsEntry[];
  readonly metadata: Record<string, string>;
}

/**
 * Reads the 8-byte length prefix: the header's length, checked against the bytes that follow
 * (`totalLength`) and `maxHeaderBytes`. Lets a reader look at the header before any data.
 */
export function safetensorsHeaderLength(prefix: Uint8Array, totalLength: number, maxHeaderBytes = MAX_HEADER_BYTES): number {
  assertLittleEndianHost();
  if (!(prefix instanceof Uint8Array)) throw malformed('payload is not bytes');
  if (totalLength < 8 || prefix.length < 8) throw malformed(`payload of ${totalLength} bytes is shorter than the 8-byte header length`);
  const declared = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(totalLength - 8)) throw malformed(`header length ${declared} exceeds the ${totalLength - 8} bytes after it`);
  const headerLength = Number(declared);
  const limit = Math.min(maxHeaderBytes, MAX_HEADER_BYTES);
  if (headerLength > limit) throw malformed(`header length ${headerLength} exceeds ${limit} bytes`);
  return headerLength;
}

/**
 * Parses and checks a safetensors header (the JSON after the length prefix) for a data section
 * of `dataLength` bytes: dtypes, shapes, offsets, and exact coverage of the data. A header naming
 * a tensor twice (JSON would silently keep the last) or listing more than `maxTensors` tensors is
 * refused with SCHEMA_MISMATCH, found by a scan of its keys before any entry is built. One
 * synchronous step: headers of untrusted size go to `parseSafetensorsHeaderAsync`.
 */
export function parseSafetensorsHeader(header: Uint8Array, dataLength: number, opts: { maxTensors?: number } = {}): SafetensorsLayout {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(header);
  } catch {
    throw malformed('header is not valid UTF-8 JSON');
  }
  const duplicate = runAtOnce(scanHeaderKeys(header, opts.maxTensors ?? MAX_SAFETENSORS_TENSORS));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed('header is not valid UTF-8 JSON');
  }
  if (duplicate !== undefined) throw schemaMismatch(`header names tensor ${JSON.stringify(duplicate)} more than once`);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw malformed('header is not a JSON object');
  return runAtOnce(layoutSteps(Object.entries(parsed as Record<string, unknown>), dataLength, 8 + header.length));
}

/** Headers up to this size are parsed in one step (JSON.parse takes well under a millisecond). */
const ONE_STEP_HEADER_BYTES = 64 * 1024;

/**
 * `parseSafetensorsHeader` without holding the event loop: a header larger than 64 KiB is
 * decoded, read and checked in steps of a few milliseconds, letting timers and I/O run between
 * them. Same layouts, same refusals and reasons.
 */
export async function parseSafetensorsHeaderAsync(header: Uint8Array, dataLength: number, opts: { maxTensors?: number } = {}): Promise<SafetensorsLayout> {
  if (header.length <= ONE_STEP_HEADER_BYTES) return parseSafetensorsHeader(header, dataLength, opts);
  return runCooperatively(headerSteps(header, dataLength, opts.maxTensors ?? MAX_SAFETENSORS_TENSORS));
}

function* headerSteps(header: Uint8Array, dataLength: number, maxTensors: number): Steps<SafetensorsLayout> {
  // A native check at gigabytes a second; the header is then read as bytes, never decoded whole.
  if (!isUtf8(header)) throw malformed('header is not valid UTF-8 JSON');
  // The key scan's verdicts, reached while reading: too many tensors stops the reading at once.
  const seen = new Set<string>();
  let duplicate: string | undefined;
  const json = yield* readHeaderJson(header, (key) => {
    if (key === METADATA_KEY) return;
    if (seen.has(key)) duplicate ??= key;
    seen.add(key);
    if (seen.size > maxTensors) throw schemaMismatch(`header lists more than ${maxTensors} tensors`);
  });
  if (!json.valid || json.members === undefined) {
    // Not an object: decided as the one-step parser decides, its key scan first.
    const scanned = yield* scanHeaderKeys(header, maxTensors);
    if (!json.valid) throw malformed('header is not valid UTF-8 JSON');
    if (scanned !== undefined) throw schemaMismatch(`header names tensor ${JSON.stringify(scanned)} more than once`);
    throw malformed('header is not a JSON object');
  }
  if (duplicate !== undefined) throw schemaMismatch(`header names tensor ${JSON.stringify(duplicate)} more than once`);
  return yield* layoutSteps(json.members, dataLength, 8 + header.length);
}

/** Entries and metadata from a header object's members (in `Object.entries` order), checked against the data. */
function* layoutSteps(members: readonly (readonly [string, unknown])[], dataLength: number, dataStart: number): Steps<SafetensorsLayout> {
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (let i = 0; i < members.length; i++) {
    if (pauseAt(i)) yield;
    const [name, raw] = members[i] as readonly [string, unknown];
    if (name === METADATA_KEY) {
      if (raw === null) continue;
      if (typeof raw !== 'object' || Array.isArray(raw)) throw malformed(`"${METADATA_KEY}" is not an object`);
      const pairs = Object.entries(raw as Record<string, unknown>);
      for (let j = 0; j < pairs.length; j++) {
        if (pauseAt(j)) yield;
        const [k, v] = pairs[j] as [string, unknown];
        if (typeof v !== 'string') throw malformed(`metadata ${JSON.stringify(k)} is not a string`);
        setOwn(metadata, k, v);
      }
      continue;
    }
    entries.push(parseEntry(name, raw, entries.length, dataLength));
  }

  // The data must be covered exactly: no gaps, no overlaps, nothing left over.
  const byOffset = yield* sortSteps(entries, (a, b) => a.begin - b.begin || a.end - b.end || a.order - b.order);
  let expected = 0;
  const out: SafetensorsEntry[] = [];
  for (let i = 0; i < byOffset.length; i++) {
    if (pauseAt(i, 4096)) yield;
    const { order: _order, ...e } = byOffset[i] as HeaderEntry;
    if (e.begin !== expected) {
      throw malformed(
        e.begin < expected
          ? `tensor ${JSON.stringify(e.name)} overlaps another tensor's data`
          : `gap in the data before tensor ${JSON.stringify(e.name)}`,
      );
    }
    expected = e.end;
    out.push(e);
  }
  if (expected !== dataLength) throw malformed(`data section has ${dataLength} bytes but tensors cover ${expected}`);
  return { dataStart, entries: out, metadata };
}

/**
 * Decodes a safetensors payload, copying each tensor into its own aligned array, or with `view`
 * over `bytes` itself where a tensor's data is aligned for its dtype (no copy: for bytes the
 * caller owns and nobody changes while the tensors live). Any
 * inconsistency is a TributaryError INVALID_ARGUMENT / MALFORMED_PAYLOAD (SCHEMA_MISMATCH for a
 * tensor named twice or more than `maxTensors` tensors).
 */
export function decodeSafetensors(bytes: Uint8Array, opts: { maxTensors?: number; view?: boolean } = {}): { tensors: TensorMap; metadata: Record<string, string> } {
  if (!(bytes instanceof Uint8Array)) throw malformed('payload is not bytes');
  const headerLength = safetensorsHeaderLength(bytes, bytes.length);
  const layout = parseSafetensorsHeader(bytes.subarray(8, 8 + headerLength), bytes.length - 8 - headerLength, opts);
  return { tensors: runAtOnce(tensorSteps(bytes, layout, opts.view === true)), metadata: layout.metadata };
}

/**
 * `decodeSafetensors` without holding the event loop (see `parseSafetensorsHeaderAsync`). Given
 * the `layout` already parsed from these very bytes, it does not parse the header again.
 */
export async function decodeSafetensorsAsync(
  bytes: Uint8Array,
  opts: { maxTensors?: number; view?: boolean; layout?: SafetensorsLayout } = {},
): Promise<{ tensors: TensorMap; metadata: Record<string, string> }> {
  if (!(bytes instanceof Uint8Array)) throw malformed('payload is not bytes');
  let layout = opts.layout;
  if (layout === undefined) {
    const headerLength = safetensorsHeaderLength(bytes, bytes.length);
    layout = await parseSafetensorsHeaderAsync(bytes.subarray(8, 8 + headerLength), bytes.length - 8 - headerLength, opts);
  } else if (layout.dataStart + (layout.entries[layout.entries.length - 1]?.end ?? 0) !== bytes.length) {
    throw malformed(`the ${bytes.length} bytes are not those the layout was read from`);
  }
  return { tensors: await runCooperatively(tensorSteps(bytes, layout, opts.view === true)), metadata: layout.metadata };
}

function* tensorSteps(bytes: Uint8Array, layout: SafetensorsLayout, view: boolean): Steps<TensorMap> {
  const tensors: TensorMap = {};
  for (let i = 0; i < layout.entries.length; i++) {
    if (pauseAt(i)) yield;
    const e = layout.entries[i] as SafetensorsEntry;
    const data = bytes.subarray(layout.dataStart + e.begin, layout.dataStart + e.end);
    setOwn(tensors, e.name, view && isAligned(e, data) ? tensorViewOfBytes(e, data) : yield* tensorCopySteps(e, data));
  }
  return tensors;
}

/** Whether `bytes` can be viewed as the entry's dtype where they lie. */
function isAligned(entry: Pick<SafetensorsEntry, 'dtype'>, bytes: Uint8Array): boolean {
  const size = DTYPES[entry.dtype].bytes;
  return bytes.byteOffset % size === 0 && bytes.length % size === 0;
}

/**
 * A tensor over `bytes` (the entry's data, little-endian) without a copy when they are aligned
 * for the dtype, else over an aligned copy: for reading values that are dropped before `bytes`
 * changes (never to keep).
 */
export function tensorViewOfBytes(entry: Pick<SafetensorsEntry, 'dtype' | 'shape'>, bytes: Uint8Array): Tensor {
  const info = DTYPES[entry.dtype];
  if (!isAligned(entry, bytes)) return tensorOfBytes(entry, bytes);
  return { dtype: entry.dtype, shape: [...entry.shape], data: info.view(bytes.buffer, bytes.byteOffset, bytes.length / info.bytes) };
}

/** A tensor holding a copy of `bytes` (the entry's data, little-endian) in an aligned array. */
export function tensorOfBytes(entry: Pick<SafetensorsEntry, 'dtype' | 'shape'>, bytes: Uint8Array): Tensor {
  return runAtOnce(tensorCopySteps(entry, bytes));
}

/** Bytes copied between two pause points of tensorCopySteps (a fraction of a millisecond). */
const COPY_STEP_BYTES = 1024 * 1024;

/**
 * `tensorOfBytes` as steps that may pause between 1 MiB runs of bytes: copying a large unaligned
 * tensor (and touching its fresh pages) never holds the event loop for the whole tensor.
 */
function* tensorCopySteps(entry: Pick<SafetensorsEntry, 'dtype' | 'shape'>, bytes: Uint8Array): Steps<Tensor> {
  const info = DTYPES[entry.dtype];
  const data = info.create(bytes.length / info.bytes);
  const target = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  for (let start = 0; start < bytes.length; start += COPY_STEP_BYTES) {
    if (start > 0) yield;
    target.set(bytes.subarray(start, Math.min(start + COPY_STEP_BYTES, bytes.length)), start);
  }
  return { dtype: entry.dtype, shape: [...entry.shape], data };
}

function parseEntry(name: string, raw: unknown, order: number, dataLength: number): HeaderEntry {
  const what = `tensor ${JSON.stringify(name)}`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw malformed(`${what} is not an object`);
  const o = raw as Record<string, unknown>;
  const dtype = o['dtype'];
  if (!isDType(dtype)) throw malformed(`${what} has unsupported dtype ${JSON.stringify(dtype) ?? 'undefined'}`);
  const shape = o['shape'];
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) throw malformed(`${what} has an invalid shape`);
  const offsets = o['data_offsets'];
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger)) {
    throw malformed(`${what} has invalid data_offsets`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataLength) throw malformed(`${what} has data_offsets [${begin}, ${end}] outside the ${dataLength}-byte data`);
  const count = checkedElementCount(shape);
  const size = DTYPES[dtype].bytes;
  if (count === undefined || count * size !== end - begin) {
    throw malformed(`${what}: ${dtype} shape ${formatShape(shape as number[])} does not match its ${end - begin} bytes`);
  }
  return { name, dtype, shape: [...(shape as number[])], begin, end, order };
}

/** Name, dtype and shape of every tensor, in map order. */
export function tensorSpecsOf(t: TensorMap): TensorSpec__Output[] {
  return Object.entries(t).map(([name, v]) => ({ name, dtype: v.dtype, shape: [...v.shape] }));
}

/** The first difference between two schemas as a message, or undefined when they match (order aside). */
export function checkSpec(expected: readonly TensorSpec__Output[], actual: readonly TensorSpec__Output[]): string | undefined {
  return runAtOnce(specSteps(expected, actual));
}

/** `checkSpec` without holding the event loop on schemas of many tensors. */
export function checkSpecAsync(expected: readonly TensorSpec__Output[], actual: readonly TensorSpec__Output[]): Promise<string | undefined> {
  return runCooperatively(specSteps(expected, actual));
}

function* specSteps(expected: readonly TensorSpec__Output[], actual: readonly TensorSpec__Output[]): Steps<string | undefined> {
  const actualByName = new Map<string, TensorSpec__Output>();
  for (let i = 0; i < actual.length; i++) {
    if (pauseAt(i, 1024)) yield;
    const a = actual[i] as TensorSpec__Output;
    if (actualByName.has(a.name)) return `duplicate tensor ${JSON.stringify(a.name)}`;
    actualByName.set(a.name, a);
  }
  const expectedNames = new Set<string>();
  for (let i = 0; i < expected.length; i++) {
    if (pauseAt(i, 1024)) yield;
    const e = expected[i] as TensorSpec__Output;
    expectedNames.add(e.name);
    const a = actualByName.get(e.name);
    if (a === undefined) return `missing tensor ${JSON.stringify(e.name)}`;
    if (a.dtype !== e.dtype) return `tensor ${JSON.stringify(e.name)} has dtype ${a.dtype}, expected ${e.dtype}`;
    if (!sameShape(a.shape, e.shape)) {
      return `tensor ${JSON.stringify(e.name)} has shape ${formatShape(a.shape)}, expected ${formatShape(e.shape)}`;
    }
  }
  for (let i = 0; i < actual.length; i++) {
    if (pauseAt(i, 1024)) yield;
    const a = actual[i] as TensorSpec__Output;
    if (!expectedNames.has(a.name)) return `unexpected tensor ${JSON.stringify(a.name)}`;
  }
  return undefined;
}

/**
 * The values of a F16, BF16 or F32 tensor as float32, exactly (every F16 and BF16 value is a
 * float32 value). Other dtypes are refused: use `toFloat64`, or `toBigInt64` for integers.
 */
export function toFloat32(t: Tensor): Float32Array {
  const d = t.data;
  switch (t.dtype) {
    case 'F32':
      return Float32Array.from(d as Float32Array);
    case 'F16':
    case 'BF16': {
      const [e, m] = t.dtype === 'F16' ? [5, 10] : [8, 7];
      const out = new Float32Array(d.length);
      for (let i = 0; i < d.length; i++) out[i] = decodeMinifloat(d[i] as number, e, m);
      return out;
    }
    default:
      throw TributaryError.invalidArgument(`toFloat32 takes F16, BF16 or F32 tensors, not ${t.dtype}: use toFloat64 (or toBigInt64 for integers)`);
  }
}

/** A F32, F16 or BF16 tensor from float32 values; F16 and BF16 round to nearest, ties to even. */
export function fromFloat32(dtype: 'F32' | 'F16' | 'BF16', shape: readonly number[], values: Float32Array): Tensor {
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
    throw TributaryError.invalidArgument(`fromFloat32 makes F32, F16 or BF16 tensors, not ${String(dtype)}: use fromFloat64 or fromBigInt64`);
  }
  // float32 -> float64 is exact, so this rounds once, from the float32 value.
  return fromFloat64(dtype, shape, Float64Array.from(values));
}

/**
 * The values of an integer tensor (I64, I32, U8) as BigInt, exactly: arithmetic on them never
 * rounds, unlike `toFloat64`, which rounds I64 values beyond 2^53. Float dtypes are refused.
 */
export function toBigInt64(t: Tensor): BigInt64Array {
  const d = t.data;
  switch (t.dtype) {
    case 'I64':
      return BigInt64Array.from(d as BigInt64Array);
    case 'I32':
    case 'U8': {
      const out = new BigInt64Array(d.length);
      for (let i = 0; i < d.length; i++) out[i] = BigInt(d[i] as number);
      return out;
    }
    default:
      throw TributaryError.invalidArgument(`toBigInt64 takes integer tensors (I64, I32, U8), not ${t.dtype}`);
  }
}

/**
 * An integer tensor from BigInt values, exactly: each value must fit the dtype (I64, I32, U8), or
 * the call fails naming the first that does not; nothing wraps around or rounds.
 */
export function fromBigInt64(dtype: 'I64' | 'I32' | 'U8', shape: readonly number[], values: BigInt64Array): Tensor {
  const range = INTEGER_RANGES[dtype];
  if (range === undefined) throw TributaryError.invalidArgument(`fromBigInt64 makes I64, I32 or U8 tensors, not ${String(dtype)}`);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as bigint;
    if (v < range.min || v > range.max) throw TributaryError.invalidArgument(`value ${v} at index ${i} does not fit dtype ${dtype}`);
  }
  if (dtype === 'I64') return tensor(dtype, shape, BigInt64Array.from(values));
  const out = dtype === 'I32' ? new Int32Array(values.length) : new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Number(values[i] as bigint);
  return tensor(dtype, shape, out);
}

const INTEGER_RANGES: Readonly<Partial<Record<DType, { min: bigint; max: bigint }>>> = {
  I64: { min: -(2n ** 63n), max: 2n ** 63n - 1n },
  I32: { min: -(2n ** 31n), max: 2n ** 31n - 1n },
  U8: { min: 0n, max: 255n },
};

/** The tensor's values as float64 (F16/BF16 decoded, I64 converted with possible rounding: see `toBigInt64`). */
export function toFloat64(t: Tensor): Float64Array {
  const d = t.data;
  const out = new Float64Array(d.length);
  switch (t.dtype) {
    case 'F16':
      for (let i = 0; i < d.length; i++) out[i] = decodeMinifloat(d[i] as number, 5, 10);
      return out;
    case 'BF16':
      for (let i = 0; i < d.length; i++) out[i] = decodeMinifloat(d[i] as number, 8, 7);
      return out;
    case 'I64':
      for (let i = 0; i < d.length; i++) out[i] = Number(d[i] as bigint);
      return out;
    default:
      out.set(d as Exclude<TensorData, BigInt64Array>);
      return out;
  }
}

/**
 * A tensor of `dtype` from float64 values: floats round to nearest (ties to even; F16/BF16
 * overflow to infinity); integer dtypes round half to even and must be finite and in range.
 */
export function fromFloat64(dtype: DType, shape: readonly number[], values: Float64Array): Tensor {
  return runAtOnce(fromFloat64Steps(dtype, shape, values));
}

/**
 * `fromFloat64` without holding the event loop: the values are converted in steps of
 * FLOAT64_STEP_ELEMENTS, each rounded as `fromFloat64` rounds it, so the tensor is the same to
 * the last bit. `values` must not change until it resolves.
 */
export function fromFloat64Async(dtype: DType, shape: readonly number[], values: Float64Array): Promise<Tensor> {
  return runCooperatively(fromFloat64Steps(dtype, shape, values));
}

/** Values converted between two pause points of fromFloat64Steps (well under a millisecond). */
const FLOAT64_STEP_ELEMENTS = 1 << 16;

/** `fromFloat64` as steps that may pause between runs of FLOAT64_STEP_ELEMENTS values. */
export function* fromFloat64Steps(dtype: DType, shape: readonly number[], values: Float64Array): Steps<Tensor> {
  if (!isDType(dtype)) throw TributaryError.invalidArgument(`unsupported dtype ${JSON.stringify(dtype)}`);
  const n = values.length;
  const out = DTYPES[dtype].create(n);
  const convert = converterTo(dtype);
  for (let start = 0; start < n; start += FLOAT64_STEP_ELEMENTS) {
    if (start > 0) yield;
    convert(out, values, start, Math.min(start + FLOAT64_STEP_ELEMENTS, n));
  }
  return tensor(dtype, shape, out);
}

/** Writes `values[start..end)` into `out` as `dtype` (out is an array of that dtype). */
function converterTo(dtype: DType): (out: TensorData, values: Float64Array, start: number, end: number) => void {
  switch (dtype) {
    case 'F64':
    case 'F32':
      return (out, values, start, end) => (out as Float64Array | Float32Array).set(values.subarray(start, end), start);
    case 'F16':
    case 'BF16': {
      const [e, m] = dtype === 'F16' ? [5, 10] : [8, 7];
      return (out, values, start, end) => {
        const o = out as Uint16Array;
        for (let i = start; i < end; i++) o[i] = encodeMinifloat(values[i] as number, e, m);
      };
    }
    case 'I32':
      return (out, values, start, end) => {
        const o = out as Int32Array;
        for (let i = start; i < end; i++) o[i] = integerIn(values[i] as number, -2147483648, 2147483647, dtype);
      };
    case 'U8':
      return (out, values, start, end) => {
        const o = out as Uint8Array;
        for (let i = start; i < end; i++) o[i] = integerIn(values[i] as number, 0, 255, dtype);
      };
    case 'I64':
      return (out, values, start, end) => {
        const o = out as BigInt64Array;
        // 2^63 is exactly representable; every double below it converts into range.
        for (let i = start; i < end; i++) o[i] = BigInt(integerIn(values[i] as number, -(2 ** 63), 2 ** 63, dtype, true));
      };
  }
}

/** Largest I64 magnitude Tributary accepts: every integer up to it is exact in float64, where aggregates are computed. */
export const MAX_EXACT_INTEGER = Number.MAX_SAFE_INTEGER;

/** The index of the first I64 value beyond ±MAX_EXACT_INTEGER, or -1 (other dtypes never have one). */
export function firstInexactInteger(t: Tensor): number {
  if (t.dtype !== 'I64') return -1;
  const d = t.data as BigInt64Array;
  const max = BigInt(MAX_EXACT_INTEGER);
  for (let i = 0; i < d.length; i++) {
    const v = d[i] as bigint;
    if (v > max || v < -max) return i;
  }
  return -1;
}

/** True when no value is NaN or infinite (integer dtypes always are finite). */
export function allFinite(t: Tensor): boolean {
  return runAtOnce(allFiniteSteps(t));
}

/**
 * `allFinite` without holding the event loop: the values are checked in runs of
 * FLOAT64_STEP_ELEMENTS (a committed model of 1e7 values is checked in 153 of them).
 */
export function allFiniteAsync(t: Tensor): Promise<boolean> {
  return runCooperatively(allFiniteSteps(t));
}

/** `allFinite` as steps that may pause between runs of FLOAT64_STEP_ELEMENTS values. */
export function* allFiniteSteps(t: Tensor): Steps<boolean> {
  const d = t.data;
  for (let start = 0; start < d.length; start += FLOAT64_STEP_ELEMENTS) {
    if (start > 0) yield;
    if (!finiteRun(t.dtype, d, start, Math.min(start + FLOAT64_STEP_ELEMENTS, d.length))) return false;
  }
  return true;
}

function finiteRun(dtype: DType, d: TensorData, start: number, end: number): boolean {
  switch (dtype) {
    case 'F32':
    case 'F64': {
      const f = d as Float32Array | Float64Array;
      for (let i = start; i < end; i++) {
        const v = f[i] as number;
        // v - v is NaN exactly for NaN and ±Infinity.
        if (v - v !== 0) return false;
      }
      return true;
    }
    case 'F16':
    case 'BF16': {
      const mask = dtype === 'F16' ? 0x7c00 : 0x7f80;
      const bits = d as Uint16Array;
      for (let i = start; i < end; i++) if (((bits[i] as number) & mask) === mask) return false;
      return true;
    }
    default:
      return true;
  }
}

// IEEE-style binary formats with `e` exponent bits and `m` mantissa bits (F16: 5/10, BF16: 8/7).
function decodeMinifloat(bits: number, e: number, m: number): number {
  const sign = bits >> (e + m) & 1 ? -1 : 1;
  const expMax = (1 << e) - 1;
  const exp = (bits >> m) & expMax;
  const frac = bits & ((1 << m) - 1);
  const bias = (1 << (e - 1)) - 1;
  if (exp === expMax) return frac === 0 ? sign * Infinity : NaN;
  if (exp === 0) return sign * frac * 2 ** (1 - bias - m);
  return sign * (2 ** m + frac) * 2 ** (exp - bias - m);
}

function encodeMinifloat(x: number, e: number, m: number): number {
  const expMax = (1 << e) - 1;
  const bias = (1 << (e - 1)) - 1;
  const signBit = x < 0 || Object.is(x, -0) ? 1 << (e + m) : 0;
  if (Number.isNaN(x)) return (expMax << m) | (1 << (m - 1));
  const a = Math.abs(x);
  if (a === Infinity) return signBit | (expMax << m);
  if (a === 0) return signBit;
  const minExp = 1 - bias;
  let exp = Math.floor(Math.log2(a));
  if (2 ** exp > a) exp--;
  else if (2 ** (exp + 1) <= a) exp++;
  if (exp < minExp) {
    // Subnormal: a carry into 2^m yields the smallest normal's encoding, as it should.
    return signBit | roundHalfEven(a / 2 ** (minExp - m));
  }
  let mant = roundHalfEven(a / 2 ** (exp - m));
  if (mant === 2 ** (m + 1)) {
    mant = 2 ** m;
    exp++;
  }
  if (exp > bias) return signBit | (expMax << m);
  return signBit | ((exp + bias) << m) | (mant - 2 ** m);
}

function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const d = q - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function integerIn(v: number, min: number, max: number, dtype: DType, maxExclusive = false): number {
  const r = roundHalfEven(v);
  if (!Number.isFinite(v) || r < min || (maxExclusive ? r >= max : r > max)) {
    throw TributaryError.invalidArgument(`value ${v} does not fit dtype ${dtype}`);
  }
  return r === 0 ? 0 : r;
}

function isNonNegativeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function formatShape(shape: readonly unknown[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Scans the top-level keys of a header's JSON (its UTF-8 bytes) without building it: more than
 * `maxTensors` tensor names throw at once; returns the first name seen twice, if any. Other
 * defects are left to the JSON reader.
 */
function* scanHeaderKeys(header: Uint8Array, maxTensors: number): Steps<string | undefined> {
  const seen = new Set<string>();
  const decoder = new TextDecoder();
  let duplicate: string | undefined;
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < header.length; i++) {
    if ((i & 0xffff) === 0) yield;
    const c = header[i];
    if (c === 0x22 /* " */) {
      const start = i;
      let escaped = false;
      for (i++; i < header.length; i++) {
        if ((i & 0xffff) === 0) yield;
        const d = header[i];
        if (d === 0x5c /* \ */) {
          escaped = true;
          i++;
        } else if (d === 0x22) break;
      }
      if (depth !== 1 || !expectKey) continue;
      expectKey = false;
      let key: string;
      try {
        key = escaped ? (JSON.parse(decoder.decode(header.subarray(start, i + 1))) as string) : utf8Text(header, start + 1, i, decoder);
      } catch {
        return undefined; // not JSON: the JSON reader says so
      }
      if (key === METADATA_KEY) continue;
      if (seen.has(key)) duplicate ??= key;
      seen.add(key);
      if (seen.size > maxTensors) throw schemaMismatch(`header lists more than ${maxTensors} tensors`);
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      expectKey = c === 0x7b && depth === 1;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */ && depth === 1) {
      expectKey = true;
    }
  }
  return duplicate;
}

function schemaMismatch(message: string): TributaryError {
  return TributaryError.of(Reason.SCHEMA_MISMATCH, `safetensors payload: ${message}`);
}

function malformed(message: string): TributaryError {
  return TributaryError.of(Reason.MALFORMED_PAYLOAD, `malformed safetensors payload: ${message}`);
}
