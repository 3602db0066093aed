import { open } from 'node:fs/promises';
import {
  OPAQUE_PAYLOAD_TENSOR,
  Reason,
  TributaryError,
  refusalOf,
  allFinite,
  checkSpec,
  decodeSafetensors,
  parseSafetensorsHeader,
  safetensorsHeaderLength,
  tensor,
  tensorOfBytes,
  type Refusal,
  type SafetensorsEntry,
  type TensorMap,
  type TensorSpec__Output,
} from '@tributary/proto';
import { SquaredDistance, clipUpdateToNorm, floatValues, isFloatDType } from '../strategies/index.js';

/** How a round takes updates: the model they must match and the norm policy. */
export interface FoldPolicy {
  /** Tensors every update must have (ignored when `heterogeneous`). */
  readonly modelSpec: readonly TensorSpec__Output[];
  /** The model the sites trained from: the origin of the norm. */
  readonly globalModel: TensorMap;
  /** Largest L2 distance from the global model; 0 = no bound. */
  readonly normBound: number;
  /** Beyond the bound: scale back (`clip`) or refuse (`refuse`). */
  readonly normMode: 'refuse' | 'clip';
  /** Models of any architecture (ensembles): no spec, no norm, opaque flavors allowed. */
  readonly heterogeneous: boolean;
}

/** Payload flavors holding a safetensors file ("" from older writers). */
const TENSOR_FLAVORS: ReadonlySet<string> = new Set(['', 'tensors']);

/** True for a safetensors payload, false for an opaque member of a heterogeneous round. */
export function isTensorFlavor(flavor: string): boolean {
  return TENSOR_FLAVORS.has(flavor);
}

/** Header bytes allowed for a model of `tensors` tensors; names and shapes fit easily. */
const HEADER_BYTES_BASE = 8192;
const HEADER_BYTES_PER_TENSOR = 2048;
/** Header bytes allowed when the round has no spec (ensemble members of any architecture). */
const HEADER_BYTES_UNSPECIFIED = 16 * 1024 * 1024;
/** Data read per step while inspecting: bounded memory whatever the payload's size. */
const INSPECT_SLICE_BYTES = 4 * 1024 * 1024;

/**
 * Checks a staged, digest-verified payload without holding it in memory: the safetensors header
 * (bounded, before any data) against the model spec, then every value finite and, for a refusing
 * norm bound, the distance from the global model. Opaque payloads have nothing to inspect.
 * Returns the refusal, or undefined when the payload may be folded.
 */
export async function inspectStagedPayload(path: string, size: number, flavor: string, policy: FoldPolicy): Promise<Refusal | undefined> {
  if (!isTensorFlavor(flavor)) return undefined;
  const file = await open(path, 'r');
  try {
    let layout;
    try {
      const prefix = await readExactly(file, 0, 8);
      const maxHeader = policy.heterogeneous ? HEADER_BYTES_UNSPECIFIED : HEADER_BYTES_BASE + HEADER_BYTES_PER_TENSOR * policy.modelSpec.length;
      const headerLength = safetensorsHeaderLength(prefix, size, maxHeader);
      layout = parseSafetensorsHeader(await readExactly(file, 8, headerLength), size - 8 - headerLength);
    } catch (err) {
      return refusalOf(Reason.MALFORMED_PAYLOAD, `payload is not a valid safetensors file: ${TributaryError.from(err).message}`);
    }
    if (!policy.heterogeneous) {
      const mismatch = checkSpec(policy.modelSpec, layout.entries);
      if (mismatch !== undefined) return refusalOf(Reason.SCHEMA_MISMATCH, `payload tensors do not match the model: ${mismatch}`);
    }
    const measure = policy.normBound > 0 && policy.normMode === 'refuse' && !policy.heterogeneous;
    const distance = new SquaredDistance();
    for (const entry of layout.entries) {
      const problem = await inspectTensor(file, layout.dataStart, entry, measure ? { distance, global: policy.globalModel } : undefined);
      if (problem !== undefined) return problem;
    }
    const norm = distance.norm();
    if (measure && norm > policy.normBound) {
      return refusalOf(Reason.NORM_EXCEEDED, `update norm ${norm.toPrecision(6)} exceeds the bound ${policy.normBound}`);
    }
    return undefined;
  } finally {
    await file.close();
  }
}

/** Reads one tensor slice by slice: finite values, and its share of the norm when measured. */
async function inspectTensor(
  file: Awaited<ReturnType<typeof open>>,
  dataStart: number,
  entry: SafetensorsEntry,
  norm: { distance: SquaredDistance; global: TensorMap } | undefined,
): Promise<Refusal | undefined> {
  const base = norm && isFloatDType(entry.dtype) ? comparableBase(norm.global, entry) : undefined;
  let elements = 0;
  for (let at = entry.begin; at < entry.end; at += INSPECT_SLICE_BYTES) {
    const bytes = await readExactly(file, dataStart + at, Math.min(INSPECT_SLICE_BYTES, entry.end - at));
    const slice = tensorOfBytes({ dtype: entry.dtype, shape: [] }, bytes);
    if (!allFinite(slice)) return refusalOf(Reason.NON_FINITE, `tensor "${entry.name}" has a NaN or infinite value`);
    if (norm && isFloatDType(entry.dtype)) {
      const values = floatValues(slice);
      norm.distance.add(values, base?.subarray(elements, elements + values.length));
      elements += values.length;
    }
  }
  return undefined;
}

/** The global model's values for a tensor of the update, when it has one of the same length. */
function comparableBase(global: TensorMap, entry: SafetensorsEntry): Float32Array | Float64Array | undefined {
  const base = global[entry.name];
  const length = entry.shape.reduce((n, d) => n * d, 1);
  return base !== undefined && base.data.length === length ? floatValues(base) : undefined;
}

async function readExactly(file: Awaited<ReturnType<typeof open>>, position: number, length: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw TributaryError.of(Reason.MALFORMED_PAYLOAD, `payload ends ${length - done} bytes early`);
    done += bytesRead;
  }
  return buffer;
}

/** An update as an aggregator folds it, and whether the norm bound scaled it back. */
export interface FoldableUpdate {
  readonly tensors: TensorMap;
  readonly clipped: boolean;
  readonly norm: number;
}

/**
 * Turns verified payload bytes into what an aggregator folds: decoded tensors (an opaque flavor
 * wrapped as one U8 tensor), scaled back to the norm bound when the round clips. Live updates and
 * updates re-folded after a restart both come through here, so both fold the same values.
 */
export function toFoldable(bytes: Uint8Array, flavor: string, policy: FoldPolicy): FoldableUpdate {
  if (!isTensorFlavor(flavor)) {
    return { tensors: { [OPAQUE_PAYLOAD_TENSOR]: tensor('U8', [bytes.byteLength], new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)) }, clipped: false, norm: 0 };
  }
  const tensors = decodeSafetensors(bytes).tensors;
  if (policy.normBound <= 0 || policy.normMode !== 'clip' || policy.heterogeneous) return { tensors, clipped: false, norm: 0 };
  return clipUpdateToNorm(tensors, policy.globalModel, policy.normBound);
}
