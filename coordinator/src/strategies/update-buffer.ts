import { randomBytes } from 'node:crypto';
import { mkdir, open, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { checkSpec, fromFloat64, tensorSpecsOf, toFloat64, elementCount } from '@tributary/proto';
import type { DType, Tensor, TensorMap, TensorSpec__Output } from '@tributary/proto';
import type { FloatVector } from './robust-kernels.js';
import { strategyError } from './strategy.js';

export interface UpdateBufferOptions {
  /** The model's tensors; an update's vector concatenates them in this order. */
  modelSpec: readonly TensorSpec__Output[];
  /** Where spill files go; created on the first spill. */
  scratchDir: string;
  /** Bytes of update vectors held in memory; the updates beyond it spill to `scratchDir`. */
  memoryBudgetBytes: number;
}

/** One slice of every buffered update: coordinates [start, end) of each, in append order. */
export interface UpdateSlice {
  start: number;
  end: number;
  rows: FloatVector[];
}

type Slot = { kind: 'memory'; values: FloatVector } | { kind: 'file'; path: string };

// F16, BF16 and U8 values are all exact in float32; F64, I32 and I64 need float64.
const FLOAT32_EXACT: ReadonlySet<string> = new Set<DType>(['F32', 'F16', 'BF16', 'U8']);
/** Values per write when spilling: 1 Mi values (4 or 8 MiB staged at a time). */
const WRITE_CHUNK = 1 << 20;
/** A slice of all spilled updates aims at this many bytes (or the memory budget if smaller). */
const SLICE_TARGET_BYTES = 32 * 1024 * 1024;
const MIN_SLICE = 1024;
const MAX_SLICE = 1 << 20;
/** Spill files read at once; keeps open descriptors few whatever the number of updates. */
const READ_CONCURRENCY = 8;

/**
 * A round's updates, each flattened to one vector (every tensor in spec order, float32 when all
 * dtypes are exact in it, else float64). Updates stay in memory up to the budget; later ones
 * spill to one file each and are read back by coordinate ranges, so a coordinate-wise kernel
 * walks the model in slices and memory stays near budget + slice x updates.
 */
export class UpdateBuffer {
  /** Coordinates in one update's vector. */
  readonly length: number;
  readonly valueType: 'float32' | 'float64';
  private readonly spec: readonly TensorSpec__Output[];
  private readonly sizes: number[];
  private readonly scratchDir: string;
  private readonly budget: number;
  private readonly fileTag = randomBytes(4).toString('hex');
  private readonly slots: Slot[] = [];
  private memoryBytes = 0;
  private dirReady = false;
  private createdDir = false;
  private appending: Promise<unknown> = Promise.resolve();
  private disposed = false;

  constructor(opts: UpdateBufferOptions) {
    if (!(opts.memoryBudgetBytes >= 0)) {
      throw new RangeError(`memoryBudgetBytes must be a non-negative number, got ${opts.memoryBudgetBytes}`);
    }
    this.spec = opts.modelSpec;
    this.sizes = opts.modelSpec.map((t) => elementCount(t.shape));
    this.length = this.sizes.reduce((a, b) => a + b, 0);
    this.valueType = opts.modelSpec.every((t) => FLOAT32_EXACT.has(t.dtype)) ? 'float32' : 'float64';
    this.scratchDir = opts.scratchDir;
    this.budget = opts.memoryBudgetBytes;
  }

  /** Number of updates appended. */
  get count(): number {
    return this.slots.length;
  }

  /** Number of updates held in spill files. */
  get spilledCount(): number {
    return this.slots.filter((s) => s.kind === 'file').length;
  }

  /** Bytes of update vectors held in memory. */
  get bytesInMemory(): number {
    return this.memoryBytes;
  }

  /** Bytes of one value in a vector. */
  get bytesPerValue(): number {
    return this.valueType === 'float32' ? 4 : 8;
  }

  /**
   * Coordinates per slice of `slices()`: one slice of every spilled update takes about
   * min(budget, 32 MiB), within [1024, 1 Mi] coordinates.
   */
  get sliceLength(): number {
    const target = Math.min(this.budget, SLICE_TARGET_BYTES);
    const perCoordinate = Math.max(1, this.spilledCount) * this.bytesPerValue;
    return Math.min(MAX_SLICE, Math.max(MIN_SLICE, Math.floor(target / perCoordinate)));
  }

  /**
   * Appends an update and returns its index. Checks the tensors against the spec first, so a
   * refused update (INVALID_ARGUMENT) or a failed spill leaves the buffer unchanged. The caller
   * may drop `tensors` once this resolves.
   */
  async append(tensors: TensorMap): Promise<number> {
    this.assertOpen();
    const pieces = this.orderedTensors(tensors);
    // Appends run one at a time, so indices follow call order and the budget is counted right.
    const appended = this.appending.then(() => this.store(pieces));
    this.appending = appended.catch(() => undefined);
    return appended;
  }

  /**
   * Coordinates [start, end) of update `index`. For an update held in memory this is a view
   * of the buffer's own vector: read it, do not change it. A spilled update is read into the
   * start of `into` when given (of `valueType`, at least end - start long), else a new vector.
   */
  async readSlice(index: number, start: number, end: number, into?: FloatVector): Promise<FloatVector> {
    this.assertOpen();
    const slot = this.slots[index];
    if (slot === undefined) throw new RangeError(`no update ${index} (the buffer holds ${this.count})`);
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= this.length)) {
      throw new RangeError(`slice [${start}, ${end}) is outside [0, ${this.length})`);
    }
    if (slot.kind === 'memory') return slot.values.subarray(start, end);
    const out = into === undefined ? this.newVector(end - start) : into.subarray(0, end - start);
    if (into !== undefined && (out.length !== end - start || into.BYTES_PER_ELEMENT !== this.bytesPerValue)) {
      throw new RangeError(`cannot read ${end - start} ${this.valueType} values into a ${into.constructor.name} of ${into.length}`);
    }
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    const handle = await open(slot.path, 'r');
    try {
      let done = 0;
      while (done < bytes.length) {
        const { bytesRead } = await handle.read(bytes, done, bytes.length - done, start * this.bytesPerValue + done);
        if (bytesRead === 0) throw new Error(`spill file ${slot.path} ended early`);
        done += bytesRead;
      }
    } finally {
      await handle.close();
    }
    return out;
  }

  /**
   * Coordinates [start, end) of the updates `indices` (all of them by default), in that order;
   * spilled ones read into `into[k]` (for the k-th index) when given.
   */
  async readSlices(
    start: number,
    end: number,
    indices?: readonly number[],
    into?: readonly (FloatVector | undefined)[],
  ): Promise<FloatVector[]> {
    const which = indices ?? this.allIndices();
    const rows = new Array<FloatVector>(which.length);
    for (let from = 0; from < which.length; from += READ_CONCURRENCY) {
      const batch = which.slice(from, from + READ_CONCURRENCY);
      const read = await Promise.all(batch.map((i, k) => this.readSlice(i, start, end, into?.[from + k])));
      read.forEach((row, k) => (rows[from + k] = row));
    }
    return rows;
  }

  /**
   * The model in consecutive slices of `sliceLength` coordinates, each across the updates
   * `indices` (default all). Spilled rows are read into vectors reused from slice to slice: a
   * slice's rows hold until the next one is requested.
   */
  async *slices(indices?: readonly number[]): AsyncGenerator<UpdateSlice> {
    const which = indices ?? this.allIndices();
    const step = Math.min(this.sliceLength, this.length);
    const reused = which.map((i) => (this.slots[i]?.kind === 'file' ? this.newVector(step) : undefined));
    for (let start = 0; start < this.length; start += step) {
      const end = Math.min(this.length, start + step);
      yield { start, end, rows: await this.readSlices(start, end, which, reused) };
    }
  }

  /** A flat vector of this buffer's layout back as tensors of the spec's names, dtypes and shapes. */
  unflatten(values: Float64Array): TensorMap {
    if (values.length !== this.length) throw new RangeError(`vector holds ${values.length} values, the model ${this.length}`);
    const model: TensorMap = {};
    let offset = 0;
    this.spec.forEach((t, i) => {
      const size = this.sizes[i]!;
      model[t.name] = fromFloat64(t.dtype as DType, t.shape, values.subarray(offset, offset + size));
      offset += size;
    });
    return model;
  }

  /** Drops the vectors and deletes the spill files; the buffer is unusable afterwards. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.appending;
    const files = this.slots.flatMap((s) => (s.kind === 'file' ? [s.path] : []));
    this.slots.length = 0;
    this.memoryBytes = 0;
    await Promise.all(files.map((f) => rm(f, { force: true })));
    // Only a directory this buffer made, and only if nothing else was put in it.
    if (this.createdDir) await rmdir(this.scratchDir).catch(() => undefined);
  }

  private async store(tensors: Tensor[]): Promise<number> {
    this.assertOpen();
    const bytes = this.length * this.bytesPerValue;
    if (this.memoryBytes + bytes <= this.budget) {
      const values = this.newVector(this.length);
      let offset = 0;
      for (const t of tensors) {
        values.set(valuesOf(t), offset);
        offset += t.data.length;
      }
      this.memoryBytes += bytes;
      return this.slots.push({ kind: 'memory', values }) - 1;
    }
    const path = await this.spill(tensors);
    return this.slots.push({ kind: 'file', path }) - 1;
  }

  /** Writes the flattened update to a new spill file through a small staging vector. */
  private async spill(tensors: Tensor[]): Promise<string> {
    if (!this.dirReady) {
      this.createdDir = (await mkdir(this.scratchDir, { recursive: true, mode: 0o700 })) !== undefined;
      this.dirReady = true;
    }
    const path = join(this.scratchDir, `update-${this.slots.length}-${this.fileTag}.${this.valueType === 'float32' ? 'f32' : 'f64'}`);
    // Spilled updates are site data: readable by the coordinator's user only.
    const handle = await open(path, 'wx', 0o600);
    try {
      const staging = this.newVector(Math.max(1, Math.min(WRITE_CHUNK, this.length)));
      const stagingBytes = new Uint8Array(staging.buffer);
      let filled = 0;
      let position = 0;
      const flush = async (): Promise<void> => {
        const total = filled * this.bytesPerValue;
        let done = 0;
        while (done < total) {
          const { bytesWritten } = await handle.write(stagingBytes, done, total - done, position + done);
          done += bytesWritten;
        }
        position += total;
        filled = 0;
      };
      for (const t of tensors) {
        const values = valuesOf(t);
        for (let from = 0; from < values.length; ) {
          const take = Math.min(values.length - from, staging.length - filled);
          staging.set(values.subarray(from, from + take), filled);
          filled += take;
          from += take;
          if (filled === staging.length) await flush();
        }
      }
      if (filled > 0) await flush();
    } catch (err) {
      await handle.close().catch(() => undefined);
      await rm(path, { force: true });
      throw err;
    }
    await handle.close();
    return path;
  }

  /** The update's tensors in spec order, or INVALID_ARGUMENT naming the first mismatch. */
  private orderedTensors(tensors: TensorMap): Tensor[] {
    const mismatch = checkSpec(this.spec, tensorSpecsOf(tensors));
    if (mismatch !== undefined) throw strategyError('INVALID_ARGUMENT', `the update does not match the model spec: ${mismatch}`);
    return this.spec.map((spec, i) => {
      const t = tensors[spec.name]!;
      if (t.data.length !== this.sizes[i]) {
        throw strategyError('INVALID_ARGUMENT', `tensor "${spec.name}" holds ${t.data.length} values, its shape ${this.sizes[i]}`);
      }
      return t;
    });
  }

  private allIndices(): number[] {
    return Array.from({ length: this.count }, (_, i) => i);
  }

  private newVector(length: number): FloatVector {
    return this.valueType === 'float32' ? new Float32Array(length) : new Float64Array(length);
  }

  private assertOpen(): void {
    if (this.disposed) {
      throw strategyError('FAILED_PRECONDITION', 'the update buffer was disposed');
    }
  }
}

/** A tensor's values as numbers a float vector can take with `set` (16-bit floats and I64 decoded). */
function valuesOf(t: Tensor): Float32Array | Float64Array | Int32Array | Uint8Array {
  switch (t.dtype) {
    case 'F16':
    case 'BF16':
    case 'I64':
      return toFloat64(t);
    default:
      return t.data as Float32Array | Float64Array | Int32Array | Uint8Array;
  }
}
