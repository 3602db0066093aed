import {
  MAX_EXACT_INTEGER,
  MAX_SAFETENSORS_TENSORS,
  OPAQUE_PAYLOAD_TENSOR,
  Reason,
  TributaryError,
  refusalOf,
  allFinite,
  checkSpecAsync,
  decodeSafetensorsAsync,
  firstInexactInteger,
  parseSafetensorsHeaderAsync,
  safetensorsHeaderLength,
  tensor,
  tensorViewOfBytes,
  elementCount,
  type ReasonCode,
  type Refusal,
  type SafetensorsEntry,
  type SafetensorsLayout,
  type TensorMap,
  type TensorSpec__Output,
} from '@tributary/proto';
import { SquaredDistance, clipUpdateToNorm, floatValues, isFloatDType } from '../strategies/index.js';
import { globalTensorsOf, openGlobalModelSlices, type GlobalModelSlices, type GlobalModelSource } from './global-model-values.js';
import { HEADER_BYTES_INITIAL_MODEL, INSPECT_SLICE_BYTES, openStaged, type StagedBytes } from './staged-bytes.js';

/** How a round takes updates: the model they must match and the norm policy. */
export interface FoldPolicy {
  /** Tensors every update must have (ignored when `heterogeneous`). */
  readonly modelSpec: readonly TensorSpec__Output[];
  /** The model the sites trained from, the origin of the norm: decoded, or kept on disk. */
  readonly globalModel: GlobalModelSource;
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

/**
 * Header bytes allowed for a model spec: what an honest writer needs for its entries (the name,
 * possibly escaped, a dtype, the shape and two offsets in JSON), with room for metadata and
 * padding, and no more: a header is read in steps that leave the event loop free
 * (`npm run bench -- decode`), but its bytes are held in memory while it is read.
 */
const HEADER_BYTES_BASE = 64 * 1024;
const HEADER_BYTES_PER_ENTRY = 128;
const HEADER_BYTES_PER_DIMENSION = 24;
export function headerBytesFor(spec: readonly TensorSpec__Output[]): number {
  let bytes = HEADER_BYTES_BASE;
  for (const t of spec) bytes += 2 * t.name.length + HEADER_BYTES_PER_ENTRY + HEADER_BYTES_PER_DIMENSION * t.shape.length;
  return bytes;
}
/**
 * Header bytes allowed for a member of a round without a spec (an ensemble's models of any
 * architecture): about 8,000 tensors of ordinary names, more than any model's file holds.
 */
const HEADER_BYTES_UNSPECIFIED = 1024 * 1024;
/** Tensors a member of a round without a spec may hold: MAX_SAFETENSORS_TENSORS. */
const TENSORS_UNSPECIFIED = MAX_SAFETENSORS_TENSORS;


/**
 * What inspection found: a refusal, or the payload's layout (none for an opaque flavor), which the
 * fold decodes with, and, under a norm bound, the update's L2 distance from the global model (a
 * clipping fold scales by it without reading the payload twice).
 */
export type Inspection = { readonly ok: false; readonly refusal: Refusal } | { readonly ok: true; readonly layout: SafetensorsLayout | undefined; readonly norm?: number };

/** How large a header may be, and how many tensors it may list. */
interface HeaderBounds {
  readonly maxHeaderBytes: number;
  readonly maxTensors: number;
}

/**
 * Checks a staged, digest-verified payload (its file, or its bytes when small enough to be kept
 * in memory) slice by slice: the safetensors header (bounded, before any data, read in steps that
 * leave the event loop free) against the model spec, then every value finite and, for a refusing
 * norm bound, the distance from the global model. Opaque payloads have nothing to inspect.
 */
export async function inspectStagedPayload(staged: string | Uint8Array, size: number, flavor: string, policy: FoldPolicy): Promise<Inspection> {
  if (!isTensorFlavor(flavor)) return { ok: true, layout: undefined };
  // No more tensors than the model has: a header of countless empty tensors stops here, while it is read.
  const bounds = policy.heterogeneous
    ? { maxHeaderBytes: HEADER_BYTES_UNSPECIFIED, maxTensors: TENSORS_UNSPECIFIED }
    : { maxHeaderBytes: headerBytesFor(policy.modelSpec), maxTensors: policy.modelSpec.length };
  return inspectWithin(staged, size, bounds, policy);
}

/**
 * Checks a new federation's initial weights as strictly as any update (every norm and aggregate
 * starts from them): a header of up to HEADER_BYTES_INITIAL_MODEL bytes and
 * MAX_SAFETENSORS_TENSORS tensors, which defines the model spec, then finite values and integers
 * exact in float64. The header is read once, in steps.
 */
export function inspectInitialModel(staged: string, size: number): Promise<Inspection> {
  const bounds = { maxHeaderBytes: HEADER_BYTES_INITIAL_MODEL, maxTensors: MAX_SAFETENSORS_TENSORS };
  // The spec comes from the header itself: nothing to match, no norm to measure.
  return inspectWithin(staged, size, bounds, { modelSpec: [], globalModel: {}, normBound: 0, normMode: 'refuse', heterogeneous: true });
}

async function inspectWithin(staged: string | Uint8Array, size: number, bounds: HeaderBounds, policy: FoldPolicy): Promise<Inspection> {
  const file = await openStaged(staged);
  try {
    let layout;
    try {
      const prefix = await file.read(0, 8);
      const headerLength = safetensorsHeaderLength(prefix, size, bounds.maxHeaderBytes);
      layout = await parseSafetensorsHeaderAsync(await file.read(8, headerLength), size - 8 - headerLength, { maxTensors: bounds.maxTensors });
    } catch (err) {
      const e = TributaryError.from(err);
      if (e.reason === Reason.SCHEMA_MISMATCH) return refused(Reason.SCHEMA_MISMATCH, `payload tensors do not match the model: ${e.message}`);
      return refused(Reason.MALFORMED_PAYLOAD, `payload is not a valid safetensors file: ${e.message}`);
    }
    if (!policy.heterogeneous) {
      const mismatch = await checkSpecAsync(policy.modelSpec, layout.entries);
      if (mismatch !== undefined) return refused(Reason.SCHEMA_MISMATCH, `payload tensors do not match the model: ${mismatch}`);
    }
    const measure = policy.normBound > 0 && !policy.heterogeneous;
    const distance = new SquaredDistance();
    const global = measure ? await openGlobalModelSlices(policy.globalModel) : undefined;
    try {
      // In the order of the decoded tensor map, the order `updateNorm` adds them in, so a norm
      // measured here is the one a whole-update fold would measure, to the last bit.
      for (const entry of inMapOrder(layout.entries)) {
        const problem = await inspectTensor(file, layout.dataStart, entry, global ? { distance, global } : undefined);
        if (problem !== undefined) return { ok: false, refusal: problem };
      }
    } finally {
      await global?.close();
    }
    if (!measure) return { ok: true, layout };
    const norm = distance.norm();
    // Not `norm > bound`: a NaN norm must refuse, never pass.
    if (policy.normMode === 'refuse' && !(norm <= policy.normBound)) {
      return refused(Reason.NORM_EXCEEDED, `update norm ${norm.toPrecision(6)} exceeds the bound ${policy.normBound}`);
    }
    return { ok: true, layout, norm };
  } finally {
    await file.close();
  }
}

/** Entries in the order a decoded TensorMap lists them (`Object.values`: array-index names first). */
export function inMapOrder(entries: readonly SafetensorsEntry[]): SafetensorsEntry[] {
  // No prototype, so a tensor named "__proto__" is an entry like any other.
  const byName = Object.create(null) as Record<string, SafetensorsEntry>;
  for (const entry of entries) byName[entry.name] = entry;
  return Object.values(byName);
}

function refused(reason: ReasonCode, message: string): Inspection {
  return { ok: false, refusal: refusalOf(reason, message) };
}

/** Reads one tensor slice by slice: finite values, and its share of the norm when measured. */
async function inspectTensor(
  file: StagedBytes,
  dataStart: number,
  entry: SafetensorsEntry,
  norm: { distance: SquaredDistance; global: GlobalModelSlices } | undefined,
): Promise<Refusal | undefined> {
  const hasBase = norm !== undefined && isFloatDType(entry.dtype) && norm.global.comparable(entry.name, elementCount(entry.shape));
  let elements = 0;
  for (let at = entry.begin; at < entry.end; at += INSPECT_SLICE_BYTES) {
    const bytes = await file.read(dataStart + at, Math.min(INSPECT_SLICE_BYTES, entry.end - at));
    // Read here and dropped before the next slice: a view, no copy.
    const slice = tensorViewOfBytes({ dtype: entry.dtype, shape: [] }, bytes);
    if (!allFinite(slice)) return refusalOf(Reason.NON_FINITE, `tensor "${entry.name}" has a NaN or infinite value`);
    const inexact = firstInexactInteger(slice);
    if (inexact >= 0) {
      return refusalOf(Reason.VALUE_OUT_OF_RANGE, `tensor "${entry.name}" holds ${String(slice.data[inexact])}, beyond ±${MAX_EXACT_INTEGER} (exact in float64, where aggregates are computed)`);
    }
    if (norm && isFloatDType(entry.dtype)) {
      const values = floatValues(slice);
      norm.distance.add(values, hasBase ? floatValues(await norm.global.read(entry.name, elements, values.length)) : undefined);
      elements += values.length;
    }
  }
  return undefined;
}


/** An update as an aggregator folds it, and whether the norm bound scaled it back. */
export interface FoldableUpdate {
  readonly tensors: TensorMap;
  readonly clipped: boolean;
  readonly norm: number;
}

/**
 * Turns verified payload bytes, which it may keep views of (hand over bytes nobody else holds or
 * changes), into what an aggregator folds: decoded tensors (an opaque flavor
 * wrapped as one U8 tensor), scaled back to the norm bound when the round clips. Live updates and
 * updates re-folded after a restart both come through here, so both fold the same values. With
 * the `layout` inspection read from these bytes, the header is not parsed again; without it, it
 * is parsed in steps.
 */
export async function toFoldable(bytes: Uint8Array, flavor: string, policy: FoldPolicy, layout?: SafetensorsLayout): Promise<FoldableUpdate> {
  if (!isTensorFlavor(flavor)) {
    return { tensors: { [OPAQUE_PAYLOAD_TENSOR]: tensor('U8', [bytes.byteLength], new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)) }, clipped: false, norm: 0 };
  }
  // Views where aligned: the caller hands over bytes nobody else holds or changes (the whole
  // payload is not copied again on the event loop).
  const { tensors } = await decodeSafetensorsAsync(bytes, layout === undefined ? { view: true } : { view: true, layout });
  if (policy.normBound <= 0 || policy.normMode !== 'clip' || policy.heterogeneous) return { tensors, clipped: false, norm: 0 };
  return clipUpdateToNorm(tensors, await globalTensorsOf(policy.globalModel), policy.normBound);
}
