import { Reason, TributaryError, fromFloat64, toFloat64, type Tensor, type TensorMap } from '@tributary/proto';

const FLOAT_DTYPES: ReadonlySet<string> = new Set(['F32', 'F64', 'F16', 'BF16']);

/** True for the dtypes a norm bound measures and clipping scales. */
export function isFloatDType(dtype: string): boolean {
  return FLOAT_DTYPES.has(dtype);
}

/**
 * Running sum of squared differences between an update and the global model, fed slice by slice
 * in data order. Whole tensors (`updateNorm`) and streamed slices (payload inspection) add the
 * same terms in the same order, so both give the same norm to the last bit.
 */
export class SquaredDistance {
  private sum = 0;

  /** Adds `values - base` (or `values` against zeros when there is no base). */
  add(values: Float32Array | Float64Array, base?: Float32Array | Float64Array): void {
    let sum = this.sum;
    if (base === undefined) {
      for (let i = 0; i < values.length; i++) sum += values[i]! * values[i]!;
    } else {
      for (let i = 0; i < values.length; i++) {
        const d = values[i]! - base[i]!;
        sum += d * d;
      }
    }
    this.sum = sum;
  }

  norm(): number {
    return Math.sqrt(this.sum);
  }
}

/**
 * L2 norm of (update - global) over all floating-point tensors. A tensor missing from the global
 * model, or of another length, counts against zeros.
 */
export function updateNorm(update: TensorMap, global: TensorMap): number {
  const distance = new SquaredDistance();
  for (const [name, t] of Object.entries(update)) {
    if (!isFloatDType(t.dtype)) continue;
    const values = floatValues(t);
    const base = global[name];
    distance.add(values, base !== undefined && base.data.length === values.length ? floatValues(base) : undefined);
  }
  return distance.norm();
}

/**
 * Scales an update's difference from the global model back onto the sphere of radius `bound`
 * (float tensors only), so no single site moves the model further than the bound allows.
 * Returns the update unchanged when it is within the bound.
 */
export function clipUpdateToNorm(update: TensorMap, global: TensorMap, bound: number): { tensors: TensorMap; clipped: boolean; norm: number } {
  const norm = updateNorm(update, global);
  // NaN only comes from a non-finite global model, which nothing may be scaled against.
  if (Number.isNaN(norm)) throw TributaryError.of(Reason.NON_FINITE, 'the distance from the global model is not a number');
  if (!(bound > 0) || norm <= bound) return { tensors: update, clipped: false, norm };
  const factor = bound / norm;
  const tensors: TensorMap = {};
  for (const [name, t] of Object.entries(update)) {
    const base = global[name];
    if (!isFloatDType(t.dtype) || base === undefined || base.data.length !== t.data.length) {
      tensors[name] = t;
      continue;
    }
    const values = toFloat64(t);
    const origin = toFloat64(base);
    for (let i = 0; i < values.length; i++) values[i] = origin[i]! + (values[i]! - origin[i]!) * factor;
    tensors[name] = fromFloat64(t.dtype, t.shape, values);
  }
  return { tensors, clipped: true, norm };
}

/** F32/F64 data as is (no copy); F16/BF16 decoded. */
export function floatValues(t: Tensor): Float32Array | Float64Array {
  if (t.data instanceof Float32Array || t.data instanceof Float64Array) return t.data;
  return toFloat64(t);
}
