import { Reason, TributaryError, dtypeSize, fromFloat64, tensorViewOfBytes, toFloat64, type SafetensorsEntry, type SafetensorsLayout, type Tensor, elementCount } from '@tributary/proto';
import { isFloatDType, type Aggregator, type SlicedSiteUpdate } from '../strategies/index.js';
import type { FoldPolicy } from './foldable-update.js';
import { openGlobalModelSlices, type GlobalModelSlices } from './global-model-values.js';
import { openStaged, type StagedBytes } from './staged-bytes.js';

/**
 * Payload bytes read per slice by a sliced fold: memory stays bounded whatever the model's size,
 * and each read is large enough that the file's reads cost little next to the fold.
 */
export const FOLD_READ_SLICE_BYTES = 16 * 1024 * 1024;

/** An aggregator that folds updates slice by slice. */
export type SlicingAggregator = Aggregator & Required<Pick<Aggregator, 'foldSlices'>>;

/** Whether the aggregator folds updates slice by slice (see `Aggregator.foldSlices`). */
export function foldsInSlices(aggregator: Aggregator): aggregator is SlicingAggregator {
  return typeof aggregator.foldSlices === 'function';
}

/** A verified payload file, as inspection read it. */
export interface InspectedPayload {
  /** The file: staged, or the blob it was kept as. */
  readonly path: string;
  readonly layout: SafetensorsLayout;
  /** The distance from the global model inspection measured; needed when the round clips. */
  readonly norm: number | undefined;
}

/** What a sliced fold did: whether the norm bound scaled the update back, and its norm. */
export interface SlicedFold {
  readonly clipped: boolean;
  readonly norm: number;
}

/**
 * Folds a verified safetensors payload into a slicing aggregator straight from its file, a slice
 * of at most `sliceBytes` at a time, never decoding the whole update. The values are those a
 * whole-update fold (`toFoldable`) hands over, bit for bit: the same dtype conversions and, when
 * the round clips, the same scaling towards the global model (by the norm inspection measured).
 * Undefined when the round clips and inspection measured no norm: decode it whole instead.
 */
export async function foldPayloadInSlices(
  aggregator: SlicingAggregator,
  update: Omit<SlicedSiteUpdate, 'specs' | 'values'>,
  payload: InspectedPayload,
  policy: FoldPolicy,
  sliceBytes = FOLD_READ_SLICE_BYTES,
): Promise<SlicedFold | undefined> {
  const clips = policy.normBound > 0 && policy.normMode === 'clip' && !policy.heterogeneous;
  if (clips && payload.norm === undefined) return undefined;
  const norm = payload.norm ?? 0;
  // NaN only comes from a non-finite global model, which nothing may be scaled against.
  if (clips && Number.isNaN(norm)) throw TributaryError.of(Reason.NON_FINITE, 'the distance from the global model is not a number');
  const clipped = clips && norm > policy.normBound;
  const global = clipped ? await openGlobalModelSlices(policy.globalModel) : undefined;
  try {
    const file = await openStaged(payload.path);
    try {
      const reader = new SliceReader(file, payload.layout, global ? { global, factor: policy.normBound / norm } : undefined, sliceBytes);
      await aggregator.foldSlices({
        ...update,
        specs: payload.layout.entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: [...e.shape] })),
        values: (name) => reader.values(name),
      });
    } finally {
      await file.close();
    }
  } finally {
    await global?.close();
  }
  return { clipped, norm: clips ? norm : 0 };
}

/** Reads a payload's tensors in slices, as fold values. */
class SliceReader {
  private readonly entries = new Map<string, SafetensorsEntry>();

  constructor(
    private readonly file: StagedBytes,
    private readonly layout: SafetensorsLayout,
    private readonly clip: { global: GlobalModelSlices; factor: number } | undefined,
    private readonly sliceBytes: number,
  ) {
    for (const e of layout.entries) this.entries.set(e.name, e);
  }

  async *values(name: string): AsyncGenerator<Float32Array | Float64Array> {
    const entry = this.entries.get(name);
    if (entry === undefined) throw TributaryError.of(Reason.SCHEMA_MISMATCH, `the payload has no tensor "${name}"`);
    const size = dtypeSize(entry.dtype);
    // Whole elements a slice, so no value straddles two reads.
    const step = Math.max(1, Math.floor(this.sliceBytes / size)) * size;
    const clip = this.clip;
    const scaled = clip !== undefined && isFloatDType(entry.dtype) && clip.global.comparable(name, elementCount(entry.shape));
    let element = 0;
    for (let at = entry.begin; at < entry.end; at += step) {
      // A view of the reader's scratch buffer (aligned whatever the file offset), valid until the next read.
      const slice = tensorViewOfBytes({ dtype: entry.dtype, shape: [] }, await this.file.read(this.layout.dataStart + at, Math.min(step, entry.end - at)));
      const n = slice.data.length;
      const values = scaled ? clippedSlice(slice, await clip.global.read(name, element, n), clip.factor) : slice;
      element += n;
      yield values.data instanceof Float32Array || values.data instanceof Float64Array ? values.data : toFloat64(values);
    }
  }
}

/**
 * A slice scaled back towards the global model by `factor`, in float64 and rounded to its dtype:
 * element by element what `clipUpdateToNorm` computes for the whole tensor.
 */
function clippedSlice(slice: Tensor, base: Tensor, factor: number): Tensor {
  const values = toFloat64(slice);
  const origin = toFloat64(base);
  for (let i = 0; i < values.length; i++) values[i] = origin[i]! + (values[i]! - origin[i]!) * factor;
  return fromFloat64(slice.dtype, [values.length], values);
}
