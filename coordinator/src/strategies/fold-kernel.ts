// The FedAvg fold, `acc[i] += weight * values[i]` into a float64 accumulator, as a WebAssembly
// SIMD kernel with a plain JS fallback. Both round the same way (one float64 multiply, then one
// float64 add, in index order, no fused multiply-add), so their results are bit-for-bit equal.
//
// The module's bytes are emitted below by a small encoder rather than assembled from text at
// build time: the kernel is two short loops, the encoder needs no tool or package, and the bytes
// are checked by WebAssembly.validate on load (the fallback is used if the engine refuses them).
//
// Memory, two ways:
// - `FoldAccumulator` (the FedAvg aggregator's sums) keeps its float64 sums in the linear memory of
//   its own instance of the module, sized once to the model; an update reaches the kernel in
//   blocks of FOLD_BLOCK elements (512 KiB of float32) copied with `TypedArray.set` into a 1 MiB
//   scratch area at the start of that memory. Nothing else is copied: the update is never held
//   whole in linear memory.
// - `fold` on arrays that both live in the JS heap copies the accumulator block in and out as
//   well (the shared instance's memory is 2 MiB and never grows); about as fast as the JS loop,
//   kept for callers that own plain arrays.

/** Elements per block: 128 Ki, so a float64 block is 1 MiB. */
export const FOLD_BLOCK = 128 * 1024;
/** Elements the SIMD loop handles per iteration; the rest of a block is folded in JS. */
const LANES = 4;
const ACC_OFFSET = 0;
const VALUES_OFFSET = FOLD_BLOCK * 8;
const PAGES = (FOLD_BLOCK * 16) / 65536;

/** `acc[i] += weight * values[i]` in a plain loop: the fallback and the reference. */
export function foldJs(acc: Float64Array, values: Float32Array | Float64Array, weight: number): void {
  for (let i = 0; i < acc.length; i++) acc[i]! += weight * values[i]!;
}

// The parts of the WebAssembly global used here (the compiler's libraries do not declare it).
interface Wasm {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}

interface FoldExports {
  m: { buffer: ArrayBuffer; grow(pages: number): number };
  f32: (acc: number, values: number, n: number, weight: number) => void;
  f64: (acc: number, values: number, n: number, weight: number) => void;
}

interface WasmFold {
  acc: Float64Array;
  values32: Float32Array;
  values64: Float64Array;
  f32: FoldExports['f32'];
  f64: FoldExports['f64'];
}

let wasm: WasmFold | undefined | null = null;

/** The SIMD kernel, or undefined when this engine has no WebAssembly SIMD. */
function wasmFold(): WasmFold | undefined {
  if (wasm !== null) return wasm;
  wasm = undefined;
  const c = compiledModule();
  if (c !== undefined) {
    const e = new c.wa.Instance(c.module).exports as FoldExports;
    wasm = {
      acc: new Float64Array(e.m.buffer, ACC_OFFSET, FOLD_BLOCK),
      values32: new Float32Array(e.m.buffer, VALUES_OFFSET, FOLD_BLOCK),
      values64: new Float64Array(e.m.buffer, VALUES_OFFSET, FOLD_BLOCK),
      f32: e.f32,
      f64: e.f64,
    };
  }
  return wasm;
}

let compiled: { wa: Wasm; module: object } | undefined | null = null;

function compiledModule(): { wa: Wasm; module: object } | undefined {
  if (compiled !== null) return compiled;
  compiled = undefined;
  const bytes = foldModuleBytes();
  const wa = (globalThis as { WebAssembly?: Wasm }).WebAssembly;
  try {
    if (wa !== undefined && wa.validate(bytes)) compiled = { wa, module: new wa.Module(bytes) };
  } catch {
    compiled = undefined;
  }
  return compiled;
}

/** What this project's ES2022 lib does not declare of resizable ArrayBuffers (Node 20 has them). */
export interface ResizableArrayBuffer extends ArrayBuffer {
  readonly resizable?: boolean;
  resize(byteLength: number): void;
}
const ResizableArrayBuffer = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableArrayBuffer;

/** V8 makes resizable ArrayBuffers of at most 4 GiB. */
const MAX_SHRINKABLE_BYTES = 2 ** 32;

/**
 * `length` float64 zeros in a buffer of their own that narrowToFloat32InPlace can shrink by half,
 * when it fits a resizable buffer; a plain Float64Array beyond.
 */
export function shrinkableFloat64Array(length: number): Float64Array {
  if (length * 8 > MAX_SHRINKABLE_BYTES) return new Float64Array(length);
  return new Float64Array(new ResizableArrayBuffer(length * 8, { maxByteLength: length * 8 }));
}

/** Whether `values` are the whole of a resizable buffer, which narrowToFloat32InPlace halves. */
export function isShrinkable(values: Float64Array): boolean {
  const buffer = values.buffer as ResizableArrayBuffer;
  return buffer.resizable === true && values.byteOffset === 0 && values.byteLength === buffer.byteLength;
}

/** Largest linear memory an accumulator asks for (wasm32 addresses 4 GiB; leave headroom). */
const MAX_MEMORY_BYTES = 2 ** 31;

/**
 * Float64 sums of several tensors for a streaming weighted mean. With WebAssembly SIMD the sums
 * live in this accumulator's own linear memory and `add` folds an update into them block by
 * block; without it (or for models beyond 2 GiB of sums) they are plain Float64Arrays and `add`
 * is the JS loop. The results are identical either way.
 */
export class FoldAccumulator {
  /** The sums, one per tensor, in the order of the lengths given. */
  readonly sums: Float64Array[];
  readonly kernel: 'wasm-simd' | 'js';
  private readonly exports: FoldExports | undefined;
  private readonly offsets: number[] = [];
  private readonly scratch32: Float32Array | undefined;
  private readonly scratch64: Float64Array | undefined;

  constructor(lengths: readonly number[], useWasm = true) {
    const total = lengths.reduce((n, l) => n + l, 0);
    const bytes = FOLD_BLOCK * 8 + total * 8;
    const c = useWasm && bytes <= MAX_MEMORY_BYTES ? compiledModule() : undefined;
    if (c === undefined) {
      this.kernel = 'js';
      // Shrinkable, so a float32 mean can be narrowed into them and give back the other half.
      this.sums = lengths.map((l) => shrinkableFloat64Array(l));
      return;
    }
    const e = new c.wa.Instance(c.module).exports as FoldExports;
    const pages = Math.ceil(bytes / 65536);
    const have = e.m.buffer.byteLength / 65536;
    if (pages > have) e.m.grow(pages - have);
    const buffer = e.m.buffer;
    this.exports = e;
    this.kernel = 'wasm-simd';
    this.scratch32 = new Float32Array(buffer, 0, FOLD_BLOCK);
    this.scratch64 = new Float64Array(buffer, 0, FOLD_BLOCK);
    let offset = FOLD_BLOCK * 8;
    this.sums = lengths.map((l) => {
      this.offsets.push(offset);
      const view = new Float64Array(buffer, offset, l);
      offset += l * 8;
      return view;
    });
  }

  /** `sums[index][i] += weight * values[i]` for every i; the lengths must match. */
  add(index: number, values: Float32Array | Float64Array, weight: number): void {
    this.checked(index, values);
    this.addRange(index, values, weight, 0);
  }

  /**
   * As `add`, yielding to the event loop after every `sliceElements` elements, so folding a
   * large tensor never holds the loop for long. Nothing else may fold into this accumulator
   * until it resolves.
   */
  async addInSlices(index: number, values: Float32Array | Float64Array, weight: number, sliceElements: number): Promise<void> {
    this.checked(index, values);
    await this.addRangeInSlices(index, 0, values, weight, sliceElements);
  }

  /**
   * As `addAt`, yielding to the event loop after every `sliceElements` elements: a large slice
   * read from a file is folded without holding the loop for the whole of it. Nothing else may
   * fold into this accumulator until it resolves.
   */
  async addAtInSlices(index: number, offset: number, values: Float32Array | Float64Array, weight: number, sliceElements: number): Promise<void> {
    this.checkedRange(index, offset, values);
    await this.addRangeInSlices(index, offset, values, weight, sliceElements);
  }

  private async addRangeInSlices(index: number, offset: number, values: Float32Array | Float64Array, weight: number, sliceElements: number): Promise<void> {
    // Whole blocks per slice, so the blocks (and the JS tail of each) are those `add` folds.
    const slice = Math.max(1, Math.floor(sliceElements / FOLD_BLOCK)) * FOLD_BLOCK;
    for (let start = 0; start < values.length; start += slice) {
      if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      this.addRange(index, values.subarray(start, Math.min(start + slice, values.length)), weight, offset + start);
    }
  }

  private checked(index: number, values: Float32Array | Float64Array): Float64Array {
    const acc = this.sums[index];
    if (acc === undefined) throw new RangeError(`no tensor ${index}`);
    if (values.length !== acc.length) {
      throw new RangeError(`length mismatch: accumulator ${acc.length}, values ${values.length}`);
    }
    return acc;
  }

  /**
   * `sums[index][offset + i] += weight * values[i]` for every i of `values`: a slice of a tensor
   * folded where it belongs. Each element is rounded as `add` rounds it, so a tensor folded in
   * slices of any size sums to exactly what folding it whole gives.
   */
  addAt(index: number, offset: number, values: Float32Array | Float64Array, weight: number): void {
    this.checkedRange(index, offset, values);
    this.addRange(index, values, weight, offset);
  }

  private checkedRange(index: number, offset: number, values: Float32Array | Float64Array): void {
    const acc = this.sums[index];
    if (acc === undefined) throw new RangeError(`no tensor ${index}`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + values.length > acc.length) {
      throw new RangeError(`slice [${offset}, ${offset + values.length}) is outside the accumulator's ${acc.length} values`);
    }
  }

  /** Folds `values` into tensor `index` from element `offset` on; the range is checked. */
  private addRange(index: number, values: Float32Array | Float64Array, weight: number, offset: number): void {
    const acc = this.sums[index]!;
    const e = this.exports;
    if (e === undefined) {
      foldJs(acc.subarray(offset, offset + values.length), values, weight);
      return;
    }
    const base = this.offsets[index]! + offset * 8;
    for (let start = 0; start < values.length; start += FOLD_BLOCK) {
      const end = Math.min(start + FOLD_BLOCK, values.length);
      const n = end - start;
      const simd = n - (n % LANES);
      if (values instanceof Float64Array) {
        this.scratch64!.set(values.subarray(start, end));
        e.f64(base + start * 8, 0, simd, weight);
      } else {
        this.scratch32!.set(values.subarray(start, end));
        e.f32(base + start * 8, 0, simd, weight);
      }
      for (let i = start + simd; i < end; i++) acc[offset + i]! += weight * values[i]!;
    }
  }
}

/** Which kernel `fold` uses in this process. */
export function foldKernelName(): 'wasm-simd' | 'js' {
  return wasmFold() === undefined ? 'js' : 'wasm-simd';
}

/**
 * `acc[i] += weight * values[i]` for every i, with the SIMD kernel when available (`useWasm`
 * false forces the JS loop). The lengths must match.
 */
export function fold(
  acc: Float64Array,
  values: Float32Array | Float64Array,
  weight: number,
  useWasm = true,
): void {
  if (values.length !== acc.length) {
    throw new RangeError(`length mismatch: accumulator ${acc.length}, values ${values.length}`);
  }
  const k = useWasm ? wasmFold() : undefined;
  if (k === undefined || acc.length < LANES * 16) {
    foldJs(acc, values, weight);
    return;
  }
  const wide = values instanceof Float64Array;
  for (let start = 0; start < acc.length; start += FOLD_BLOCK) {
    const end = Math.min(start + FOLD_BLOCK, acc.length);
    const n = end - start;
    const simd = n - (n % LANES);
    const accBlock = acc.subarray(start, end);
    k.acc.set(accBlock);
    if (wide) {
      k.values64.set(values.subarray(start, end));
      k.f64(ACC_OFFSET, VALUES_OFFSET, simd, weight);
    } else {
      k.values32.set(values.subarray(start, end));
      k.f32(ACC_OFFSET, VALUES_OFFSET, simd, weight);
    }
    accBlock.set(k.acc.subarray(0, simd));
    for (let i = start + simd; i < end; i++) acc[i]! += weight * values[i]!;
  }
}

// --- module bytes -------------------------------------------------------------------------

const I32 = 0x7f;
const F64 = 0x7c;
const V128 = 0x7b;
const op = {
  block: 0x02, loop: 0x03, br: 0x0c, brIf: 0x0d, end: 0x0b,
  localGet: 0x20, localSet: 0x21, i32Const: 0x41, i32GeU: 0x4f, i32Add: 0x6a, i32Shl: 0x74,
};
const simd = (code: number): number[] => [0xfd, ...uleb(code)];
const V128_LOAD = 0x00;
const V128_STORE = 0x0b;
const I8X16_SHUFFLE = 0x0d;
const F64X2_SPLAT = 0x14;
const F64X2_PROMOTE_LOW_F32X4 = 0x5f;
const F64X2_ADD = 0xf0;
const F64X2_MUL = 0xf2;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(s: string): number[] {
  const b = [...Buffer.from(s, 'utf8')];
  return [...uleb(b.length), ...b];
}

/**
 * One fold function: params (acc ptr, values ptr, n, weight), locals (weight splat, values end,
 * loaded vector). Each iteration folds four values: two float64 vectors of the accumulator.
 */
function foldBody(wide: boolean): number[] {
  const [ACC, VAL, N, W, WV, END, V] = [0, 1, 2, 3, 4, 5, 6];
  const load = (offset: number): number[] => [...simd(V128_LOAD), 4, ...uleb(offset)];
  const store = (offset: number): number[] => [...simd(V128_STORE), 4, ...uleb(offset)];
  const madd = (accOffset: number, value: number[]): number[] => [
    op.localGet, ACC,
    op.localGet, ACC, ...load(accOffset),
    ...value, op.localGet, WV, ...simd(F64X2_MUL), ...simd(F64X2_ADD),
    ...store(accOffset),
  ];
  const step = wide ? 32 : 16;
  const low = wide
    ? [op.localGet, VAL, ...load(0)]
    : [op.localGet, V, ...simd(F64X2_PROMOTE_LOW_F32X4)];
  const high = wide
    ? [op.localGet, VAL, ...load(16)]
    : [op.localGet, V, op.localGet, V, ...simd(I8X16_SHUFFLE),
        8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7,
        ...simd(F64X2_PROMOTE_LOW_F32X4)];
  const code = [
    op.localGet, W, ...simd(F64X2_SPLAT), op.localSet, WV,
    op.localGet, VAL, op.localGet, N, op.i32Const, wide ? 3 : 2, op.i32Shl, op.i32Add, op.localSet, END,
    op.block, 0x40, op.loop, 0x40,
    op.localGet, VAL, op.localGet, END, op.i32GeU, op.brIf, 1,
    ...(wide ? [] : [op.localGet, VAL, ...load(0), op.localSet, V]),
    ...madd(0, low),
    ...madd(16, high),
    op.localGet, ACC, op.i32Const, 32, op.i32Add, op.localSet, ACC,
    op.localGet, VAL, op.i32Const, ...uleb(step), op.i32Add, op.localSet, VAL,
    op.br, 0,
    op.end, op.end, op.end,
  ];
  const locals = vec([[1, V128], [1, I32], [1, V128]]);
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

function foldModuleBytes(): Uint8Array<ArrayBuffer> {
  const type = [0x60, ...vec([[I32], [I32], [I32], [F64]]), 0];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([type])),
    ...section(3, vec([[0], [0]])),
    ...section(5, vec([[0x00, ...uleb(PAGES)]])),
    ...section(7, vec([
      [...name('m'), 0x02, 0],
      [...name('f32'), 0x00, 0],
      [...name('f64'), 0x00, 1],
    ])),
    ...section(10, vec([foldBody(false), foldBody(true)])),
  ];
  return new Uint8Array(bytes);
}
