// The FedAvg fold, `acc[i] += weight * values[i]` into a float64 accumulator, as a WebAssembly
// SIMD kernel with a plain JS fallback. Both round the same way (one float64 multiply, then one
// float64 add, in index order, no fused multiply-add), so their results are bit-for-bit equal.
// The kernel folds 1 to FOLD_GROUP updates per pass over the sums: per element it still adds
// the updates one after another, `((acc + w1 * a1) + w2 * a2) + ...`, so a group sums to the
// same bits as its updates folded one by one, while the float64 sums (8 bytes read and 8
// written per element) are loaded and stored once for the group instead of once per update.
//
// The module's bytes are emitted below by a small encoder rather than assembled from text at
// build time: the kernel is eight short loops (float32 or float64 updates, 1 to 4 of them), the
// encoder needs no tool or package, and the bytes are checked by WebAssembly.validate on load
// (the fallback is used if the engine refuses them).
//
// Memory, two ways:
// - `FoldAccumulator` (the FedAvg aggregator's sums) keeps its float64 sums in the linear memory of
//   its own instance of the module, sized once to the model; each update of a group reaches the
//   kernel in blocks of FOLD_BLOCK elements (256 KiB of float32) copied with `TypedArray.set` into
//   its slot of a 2 MiB scratch area at the start of that memory. Nothing else is copied: an
//   update is never held whole in linear memory.
// - `fold` on arrays that both live in the JS heap copies the accumulator block in and out as
//   well (the shared instance's memory is 2.5 MiB and never grows); about as fast as the JS loop,
//   kept for callers that own plain arrays.

/** Elements per block: 64 Ki, so a float64 block is 512 KiB and a float32 block 256 KiB. */
export const FOLD_BLOCK = 64 * 1024;
/** Most updates one pass folds over the sums (the kernel's scratch holds one block of each). */
export const FOLD_GROUP = 4;
/** Float32 vectors per iteration of the SIMD loop. */
const UNROLL = 2;
/** Elements the SIMD loop handles per iteration; the rest of a block is folded in JS. */
const LANES = 4 * UNROLL;
/** Bytes between two updates' blocks in the scratch area (a float64 block). */
const SCRATCH_STRIDE = FOLD_BLOCK * 8;
const SCRATCH_BYTES = SCRATCH_STRIDE * FOLD_GROUP;
// The shared instance of `fold`: the scratch area, then one block of sums.
const ACC_OFFSET = SCRATCH_BYTES;
const PAGES = (SCRATCH_BYTES + FOLD_BLOCK * 8) / 65536;

/** One update's part in a fold: its values and the weight they are added with. */
export interface FoldTerm {
  readonly values: Float32Array | Float64Array;
  readonly weight: number;
}

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

/** Folds `n` values (a multiple of LANES) of 1 to FOLD_GROUP updates; the unused weights are ignored. */
type KernelFn = (acc: number, n: number, w1: number, w2: number, w3: number, w4: number) => void;

interface FoldExports {
  m: { buffer: ArrayBuffer; grow(pages: number): number };
  [name: string]: unknown;
}

/** The kernel's functions by update width, then by number of updates less one. */
interface Kernels {
  f32: KernelFn[];
  f64: KernelFn[];
}

function kernelsOf(e: FoldExports): Kernels {
  const fns = (wide: boolean): KernelFn[] => Array.from({ length: FOLD_GROUP }, (_, j) => e[kernelName(wide, j + 1)] as KernelFn);
  return { f32: fns(false), f64: fns(true) };
}

function kernelName(wide: boolean, updates: number): string {
  return `${wide ? 'f64' : 'f32'}x${updates}`;
}

interface WasmFold {
  acc: Float64Array;
  values32: Float32Array;
  values64: Float64Array;
  kernels: Kernels;
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
      values32: new Float32Array(e.m.buffer, 0, FOLD_BLOCK),
      values64: new Float64Array(e.m.buffer, 0, FOLD_BLOCK),
      kernels: kernelsOf(e),
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
 * Largest linear memory kept for reuse once released: zeroing it for the next accumulator is a
 * memset of at most this much (tens of milliseconds), far cheaper than touching as many freshly
 * mapped pages again (about 2.5 ms a MiB on a virtual machine).
 */
const MAX_SPARE_BYTES = 256 * 2 ** 20;
/** A spare memory not taken again within this long is dropped, so an idle coordinator gives it back. */
const SPARE_IDLE_MS = 60_000;

/** The instance of the last accumulator released, kept for the next one that fits in its memory. */
let spare: { exports: FoldExports; timer: NodeJS.Timeout } | undefined;

function takeSpare(bytes: number): FoldExports | undefined {
  const kept = spare;
  if (kept === undefined || kept.exports.m.buffer.byteLength < bytes) return undefined;
  spare = undefined;
  clearTimeout(kept.timer);
  return kept.exports;
}

function keepSpare(exports: FoldExports): void {
  if (spare !== undefined) clearTimeout(spare.timer);
  const timer = setTimeout(() => {
    if (spare?.exports === exports) spare = undefined;
  }, SPARE_IDLE_MS);
  timer.unref();
  spare = { exports, timer };
}

/** Whether a released accumulator's memory is kept for the next (for tests). */
export function hasSpareFoldMemory(): boolean {
  return spare !== undefined;
}

/**
 * Float64 sums of several tensors for a streaming weighted mean. With WebAssembly SIMD the sums
 * live in this accumulator's own linear memory and `add` folds an update into them block by
 * block; without it (or for models beyond 2 GiB of sums) they are plain Float64Arrays and `add`
 * is the JS loop. The results are identical either way.
 *
 * `addMany` folds up to FOLD_GROUP updates in one pass over the sums: per element still
 * `((acc + w1 * a1) + w2 * a2) + ...`, the operations of folding them one by one in that order,
 * so the sums are the same to the last bit, while the sums are read and written once per group
 * instead of once per update.
 */
export class FoldAccumulator {
  /** The sums, one per tensor, in the order of the lengths given. */
  readonly sums: Float64Array[];
  readonly kernel: 'wasm-simd' | 'js';
  private readonly kernels: Kernels | undefined;
  private readonly offsets: number[] = [];
  /** The scratch blocks of the updates folded together, as float32 and as float64. */
  private readonly scratch32: Float32Array[] = [];
  private readonly scratch64: Float64Array[] = [];
  /** The instance whose linear memory holds the sums; undefined for the JS kernel or once released. */
  private exports: FoldExports | undefined;
  private released = false;

  constructor(lengths: readonly number[], useWasm = true) {
    const total = lengths.reduce((n, l) => n + l, 0);
    const bytes = SCRATCH_BYTES + total * 8;
    const c = useWasm && bytes <= MAX_MEMORY_BYTES ? compiledModule() : undefined;
    if (c === undefined) {
      this.kernel = 'js';
      // Shrinkable, so a float32 mean can be narrowed into them and give back the other half.
      this.sums = lengths.map((l) => shrinkableFloat64Array(l));
      return;
    }
    // A released accumulator's memory, already mapped, is zeroed (its scratch area need not be).
    const reused = takeSpare(bytes);
    const e = reused ?? (new c.wa.Instance(c.module).exports as FoldExports);
    const pages = Math.ceil(bytes / 65536);
    const have = e.m.buffer.byteLength / 65536;
    if (pages > have) e.m.grow(pages - have);
    const buffer = e.m.buffer;
    if (reused !== undefined) new Uint8Array(buffer, SCRATCH_BYTES, total * 8).fill(0);
    this.exports = e;
    this.kernels = kernelsOf(e);
    this.kernel = 'wasm-simd';
    for (let j = 0; j < FOLD_GROUP; j++) {
      this.scratch32.push(new Float32Array(buffer, j * SCRATCH_STRIDE, FOLD_BLOCK));
      this.scratch64.push(new Float64Array(buffer, j * SCRATCH_STRIDE, FOLD_BLOCK));
    }
    let offset = SCRATCH_BYTES;
    this.sums = lengths.map((l) => {
      this.offsets.push(offset);
      const view = new Float64Array(buffer, offset, l);
      offset += l * 8;
      return view;
    });
  }

  /**
   * Hands this accumulator's linear memory on to the next accumulator made (zeroed then), instead
   * of leaving it for the garbage collector while the next one maps as much afresh. Call it only
   * once nothing reads the sums, nor any view of them (e.g. a mean narrowed in place), any more:
   * the next accumulator writes over them. Nothing may fold into this one afterwards.
   */
  release(): void {
    const e = this.exports;
    this.exports = undefined;
    this.released = true;
    if (e !== undefined && e.m.buffer.byteLength <= MAX_SPARE_BYTES) keepSpare(e);
  }

  private assertHeld(): void {
    if (this.released) throw new RangeError("the accumulator was released: its memory is another's now");
  }

  /** `sums[index][i] += weight * values[i]` for every i; the lengths must match. */
  add(index: number, values: Float32Array | Float64Array, weight: number): void {
    this.addMany(index, [{ values, weight }]);
  }

  /**
   * Folds the terms into tensor `index` in their order, bit for bit as `add` of each in turn
   * would, in one pass over the sums per FOLD_GROUP terms. Every length must match.
   */
  addMany(index: number, terms: readonly FoldTerm[]): void {
    this.checkedWhole(index, terms);
    this.addRange(index, 0, terms);
  }

  /**
   * As `addMany`, yielding to the event loop after every `sliceElements` elements, so folding a
   * large tensor never holds the loop for long. Nothing else may fold into this accumulator
   * until it resolves.
   */
  async addManyInSlices(index: number, terms: readonly FoldTerm[], sliceElements: number): Promise<void> {
    this.checkedWhole(index, terms);
    await this.addRangeInSlices(index, 0, terms, sliceElements);
  }

  private checkedWhole(index: number, terms: readonly FoldTerm[]): void {
    this.assertHeld();
    const acc = this.sums[index];
    if (acc === undefined) throw new RangeError(`no tensor ${index}`);
    for (const { values } of terms) {
      if (values.length !== acc.length) throw new RangeError(`length mismatch: accumulator ${acc.length}, values ${values.length}`);
    }
  }

  /**
   * As `add`, yielding to the event loop after every `sliceElements` elements, so folding a
   * large tensor never holds the loop for long. Nothing else may fold into this accumulator
   * until it resolves.
   */
  async addInSlices(index: number, values: Float32Array | Float64Array, weight: number, sliceElements: number): Promise<void> {
    await this.addManyInSlices(index, [{ values, weight }], sliceElements);
  }

  /**
   * As `addAt`, yielding to the event loop after every `sliceElements` elements: a large slice
   * read from a file is folded without holding the loop for the whole of it. Nothing else may
   * fold into this accumulator until it resolves.
   */
  async addAtInSlices(index: number, offset: number, values: Float32Array | Float64Array, weight: number, sliceElements: number): Promise<void> {
    await this.addManyAtInSlices(index, offset, [{ values, weight }], sliceElements);
  }

  /**
   * As `addManyAt`, yielding to the event loop after every `sliceElements` elements. Nothing else
   * may fold into this accumulator until it resolves.
   */
  async addManyAtInSlices(index: number, offset: number, terms: readonly FoldTerm[], sliceElements: number): Promise<void> {
    this.checkedRange(index, offset, terms);
    await this.addRangeInSlices(index, offset, terms, sliceElements);
  }

  private async addRangeInSlices(index: number, offset: number, terms: readonly FoldTerm[], sliceElements: number): Promise<void> {
    const length = terms[0]?.values.length ?? 0;
    // Whole blocks per slice, so the blocks (and the JS tail of each) are those `add` folds.
    const slice = Math.max(1, Math.floor(sliceElements / FOLD_BLOCK)) * FOLD_BLOCK;
    for (let start = 0; start < length; start += slice) {
      if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const end = Math.min(start + slice, length);
      this.addRange(index, offset + start, terms.map((t) => ({ values: t.values.subarray(start, end), weight: t.weight })));
    }
  }

  /**
   * `sums[index][offset + i] += weight * values[i]` for every i of `values`: a slice of a tensor
   * folded where it belongs. Each element is rounded as `add` rounds it, so a tensor folded in
   * slices of any size sums to exactly what folding it whole gives.
   */
  addAt(index: number, offset: number, values: Float32Array | Float64Array, weight: number): void {
    this.addManyAt(index, offset, [{ values, weight }]);
  }

  /** As `addAt` for several slices of the same length and place, folded in their order as `addMany` does. */
  addManyAt(index: number, offset: number, terms: readonly FoldTerm[]): void {
    this.checkedRange(index, offset, terms);
    this.addRange(index, offset, terms);
  }

  private checkedRange(index: number, offset: number, terms: readonly FoldTerm[]): void {
    this.assertHeld();
    const acc = this.sums[index];
    if (acc === undefined) throw new RangeError(`no tensor ${index}`);
    const length = terms[0]?.values.length ?? 0;
    if (terms.some((t) => t.values.length !== length)) throw new RangeError('slices folded together must be of the same length');
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > acc.length) {
      throw new RangeError(`slice [${offset}, ${offset + length}) is outside the accumulator's ${acc.length} values`);
    }
  }

  /** Folds the terms (of one length) into tensor `index` from element `offset` on; the range is checked. */
  private addRange(index: number, offset: number, terms: readonly FoldTerm[]): void {
    const length = terms[0]?.values.length ?? 0;
    const acc = this.sums[index]!.subarray(offset, offset + length);
    const k = this.kernels;
    if (k === undefined) {
      for (const { values, weight } of terms) foldJs(acc, values, weight);
      return;
    }
    const base = this.offsets[index]! + offset * 8;
    const groups = foldGroups(terms);
    for (let start = 0; start < length; start += FOLD_BLOCK) {
      const end = Math.min(start + FOLD_BLOCK, length);
      const n = end - start;
      const simd = n - (n % LANES);
      for (const group of groups) {
        const wide = group[0]!.values instanceof Float64Array;
        group.forEach((t, j) => (wide ? this.scratch64[j]! : this.scratch32[j]!).set(t.values.subarray(start, end)));
        const w = (j: number): number => group[j]?.weight ?? 0;
        (wide ? k.f64 : k.f32)[group.length - 1]!(base + start * 8, simd, w(0), w(1), w(2), w(3));
        foldTail(acc, group, start + simd, end);
      }
    }
  }
}

/**
 * The terms in runs of at most FOLD_GROUP of one width, in their order: folding the runs one
 * after another adds to each element in the order of the terms.
 */
function foldGroups(terms: readonly FoldTerm[]): FoldTerm[][] {
  const groups: FoldTerm[][] = [];
  let group: FoldTerm[] = [];
  for (const t of terms) {
    const first = group[0];
    if (first !== undefined && (group.length === FOLD_GROUP || first.values instanceof Float64Array !== t.values instanceof Float64Array)) {
      groups.push(group);
      group = [];
    }
    group.push(t);
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/** The elements [from, to) of a group that the SIMD loop left, in JS, term after term per element. */
function foldTail(acc: Float64Array, group: readonly FoldTerm[], from: number, to: number): void {
  for (let i = from; i < to; i++) {
    let sum = acc[i]!;
    for (const { values, weight } of group) sum += weight * values[i]!;
    acc[i] = sum;
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
      k.kernels.f64[0]!(ACC_OFFSET, simd, weight, 0, 0, 0);
    } else {
      k.values32.set(values.subarray(start, end));
      k.kernels.f32[0]!(ACC_OFFSET, simd, weight, 0, 0, 0);
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
const V128_LOAD64_ZERO = 0x5d;
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

/** Signed LEB128, as `i32.const` takes its operand. */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
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
 * One fold function of `updates` updates: params (acc ptr, n, weight 1..4), locals (weight
 * splats, values ptr, values end, two sum vectors). The values of update j are
 * read from scratch at j * SCRATCH_STRIDE. Each iteration folds LANES elements: per four, two
 * float64 vectors of sums are loaded once, every update's values are added into them in
 * order, and they are stored once.
 */
function foldBody(wide: boolean, updates: number): number[] {
  const [ACC, N, W] = [0, 1, 2];
  const WV = 6;
  const [VAL, END, A0, A1] = [10, 11, 12, 13];
  const load = (offset: number): number[] => [...simd(V128_LOAD), 4, ...uleb(offset)];
  const store = (offset: number): number[] => [...simd(V128_STORE), 4, ...uleb(offset)];
  const load64 = (offset: number): number[] => [...simd(V128_LOAD64_ZERO), 3, ...uleb(offset)];
  // sum = sum + value * weight: the rounding of `acc[i] += weight * values[i]`.
  const madd = (sum: number, value: number[], j: number): number[] => [
    op.localGet, sum, ...value, op.localGet, WV + j, ...simd(F64X2_MUL), ...simd(F64X2_ADD), op.localSet, sum,
  ];
  const size = wide ? 8 : 4;
  const four = (u: number): number[] => {
    const accOffset = u * 32;
    const code = [op.localGet, ACC, ...load(accOffset), op.localSet, A0, op.localGet, ACC, ...load(accOffset + 16), op.localSet, A1];
    for (let j = 0; j < updates; j++) {
      const at = j * SCRATCH_STRIDE + u * 4 * size;
      if (wide) {
        code.push(...madd(A0, [op.localGet, VAL, ...load(at)], j), ...madd(A1, [op.localGet, VAL, ...load(at + 16)], j));
      } else {
        // Two float32 values a load, promoted: no shuffle of a four-value load.
        code.push(...madd(A0, [op.localGet, VAL, ...load64(at), ...simd(F64X2_PROMOTE_LOW_F32X4)], j));
        code.push(...madd(A1, [op.localGet, VAL, ...load64(at + 8), ...simd(F64X2_PROMOTE_LOW_F32X4)], j));
      }
    }
    code.push(op.localGet, ACC, op.localGet, A0, ...store(accOffset), op.localGet, ACC, op.localGet, A1, ...store(accOffset + 16));
    return code;
  };
  const splats = Array.from({ length: updates }, (_, j) => [op.localGet, W + j, ...simd(F64X2_SPLAT), op.localSet, WV + j]).flat();
  const code = [
    ...splats,
    op.localGet, N, op.i32Const, wide ? 3 : 2, op.i32Shl, op.localSet, END,
    op.block, 0x40, op.loop, 0x40,
    op.localGet, VAL, op.localGet, END, op.i32GeU, op.brIf, 1,
    ...Array.from({ length: UNROLL }, (_, u) => four(u)).flat(),
    op.localGet, ACC, op.i32Const, ...sleb(32 * UNROLL), op.i32Add, op.localSet, ACC,
    op.localGet, VAL, op.i32Const, ...sleb(4 * size * UNROLL), op.i32Add, op.localSet, VAL,
    op.br, 0,
    op.end, op.end, op.end,
  ];
  const locals = vec([[FOLD_GROUP, V128], [2, I32], [2, V128]]);
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

function foldModuleBytes(): Uint8Array<ArrayBuffer> {
  const type = [0x60, ...vec([[I32], [I32], [F64], [F64], [F64], [F64]]), 0];
  const kinds = [false, true].flatMap((wide) => Array.from({ length: FOLD_GROUP }, (_, j) => ({ wide, updates: j + 1 })));
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([type])),
    ...section(3, vec(kinds.map(() => [0]))),
    ...section(5, vec([[0x00, ...uleb(PAGES)]])),
    ...section(7, vec([
      [...name('m'), 0x02, 0],
      ...kinds.map((k, i) => [...name(kernelName(k.wide, k.updates)), 0x00, i]),
    ])),
    ...section(10, vec(kinds.map((k) => foldBody(k.wide, k.updates)))),
  ];
  return new Uint8Array(bytes);
}
