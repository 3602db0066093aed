import { Reason, TributaryError, dtypeSize, fromFloat64, tensorViewOfBytes, toFloat64, type SafetensorsEntry, type SafetensorsLayout, type Tensor, elementCount } from '@tributary/proto';
import { FOLD_GROUP, isFloatDType, type Aggregator, type SlicedSiteUpdate } from '../strategies/index.js';
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

/** An aggregator that folds several updates' slices together. */
export type GroupSlicingAggregator = SlicingAggregator & Required<Pick<Aggregator, 'foldSlicesTogether'>>;

/** Whether the aggregator folds several updates' slices together (see `Aggregator.foldSlicesTogether`). */
export function foldsTogetherInSlices(aggregator: Aggregator): aggregator is GroupSlicingAggregator {
  return foldsInSlices(aggregator) && typeof aggregator.foldSlicesTogether === 'function';
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

/** One verified update of those folded together, and its payload. */
export interface SlicedFoldItem {
  readonly update: Omit<SlicedSiteUpdate, 'specs' | 'values'>;
  readonly payload: InspectedPayload;
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
  const plan = clipPlan(payload, policy);
  if (plan === undefined) return undefined;
  const opened = await openSliced({ update, payload }, plan, policy, sliceBytes);
  try {
    await aggregator.foldSlices(opened.update);
  } finally {
    await opened.close();
  }
  return plan.fold;
}

/**
 * As `foldPayloadInSlices` for several verified payloads, folded FOLD_GROUP at a time in one pass
 * over the aggregate (`foldSlicesTogether`): the same aggregate to the last bit as folding them
 * one by one in this order, with one read slice per update of the group in memory. Settles per
 * item, in order: its fold, undefined when it must be decoded whole instead (nothing folded),
 * or why it was refused.
 */
export async function foldPayloadsInSlices(
  aggregator: GroupSlicingAggregator,
  items: readonly SlicedFoldItem[],
  policy: FoldPolicy,
  sliceBytes = FOLD_READ_SLICE_BYTES,
): Promise<Array<PromiseSettledResult<SlicedFold | undefined>>> {
  const outcomes: Array<PromiseSettledResult<SlicedFold | undefined>> = items.map(() => ({ status: 'fulfilled', value: undefined }));
  const planned: Array<{ at: number; plan: ClipPlan }> = [];
  items.forEach((item, at) => {
    try {
      const plan = clipPlan(item.payload, policy);
      if (plan !== undefined) planned.push({ at, plan });
    } catch (err) {
      outcomes[at] = { status: 'rejected', reason: err };
    }
  });
  for (let start = 0; start < planned.length; start += FOLD_GROUP) {
    const group = planned.slice(start, start + FOLD_GROUP);
    const opened: Array<{ at: number; plan: ClipPlan; sliced: OpenedSlices }> = [];
    try {
      for (const { at, plan } of group) {
        try {
          opened.push({ at, plan, sliced: await openSliced(items[at]!, plan, policy, sliceBytes) });
        } catch (err) {
          outcomes[at] = { status: 'rejected', reason: err };
        }
      }
      if (opened.length === 0) continue;
      const folded = await aggregator.foldSlicesTogether(opened.map((o) => o.sliced.update));
      opened.forEach((o, k) => {
        const f = folded[k]!;
        outcomes[o.at] = f.status === 'fulfilled' ? { status: 'fulfilled', value: o.plan.fold } : f;
      });
    } finally {
      await Promise.allSettled(opened.map((o) => o.sliced.close()));
    }
  }
  return outcomes;
}

/** Whether and how a payload is scaled back to the norm bound as it is read. */
interface ClipPlan {
  readonly clipped: boolean;
  /** The factor when clipped. */
  readonly factor: number;
  readonly fold: SlicedFold;
}

/** Whether a payload with this norm (as inspection measured it) folds from its file without being decoded whole. */
export function foldsWithoutDecoding(norm: number | undefined, policy: FoldPolicy): boolean {
  return !(clips(policy) && norm === undefined);
}

function clips(policy: FoldPolicy): boolean {
  return policy.normBound > 0 && policy.normMode === 'clip' && !policy.heterogeneous;
}

/** How the payload is clipped, or undefined when the round clips and inspection measured no norm. */
function clipPlan(payload: InspectedPayload, policy: FoldPolicy): ClipPlan | undefined {
  if (!foldsWithoutDecoding(payload.norm, policy)) return undefined;
  const clipping = clips(policy);
  const norm = payload.norm ?? 0;
  // NaN only comes from a non-finite global model, which nothing may be scaled against.
  if (clipping && Number.isNaN(norm)) throw TributaryError.of(Reason.NON_FINITE, 'the distance from the global model is not a number');
  const clipped = clipping && norm > policy.normBound;
  return { clipped, factor: clipped ? policy.normBound / norm : 1, fold: { clipped, norm: clipping ? norm : 0 } };
}

interface OpenedSlices {
  readonly update: SlicedSiteUpdate;
  close(): Promise<void>;
}

/** The payload's file (and the global model's, when clipped) opened as a sliced update. */
async function openSliced(item: SlicedFoldItem, plan: ClipPlan, policy: FoldPolicy, sliceBytes: number): Promise<OpenedSlices> {
  const { payload } = item;
  const global = plan.clipped ? await openGlobalModelSlices(policy.globalModel) : undefined;
  let file: StagedBytes;
  try {
    file = await openStaged(payload.path);
  } catch (err) {
    await global?.close();
    throw err;
  }
  const reader = new SliceReader(file, payload.layout, global ? { global, factor: plan.factor } : undefined, sliceBytes);
  return {
    update: {
      ...item.update,
      specs: payload.layout.entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: [...e.shape] })),
      values: (name) => reader.values(name),
    },
    close: async () => {
      try {
        await file.close();
      } finally {
        await global?.close();
      }
    },
  };
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
