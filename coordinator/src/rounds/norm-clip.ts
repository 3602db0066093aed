import { fromFloat64, toFloat64, type TensorMap } from '@tributary/proto';
import { updateNorm } from '../ingest/verification.js';

const FLOAT_DTYPES: ReadonlySet<string> = new Set(['F32', 'F64', 'F16', 'BF16']);

/**
 * Scales an update's difference from the global model back onto the sphere of radius `bound`
 * (float tensors only), so no single site moves the model further than the bound allows.
 * Returns the update unchanged when it is within the bound.
 */
export function clipUpdateToNorm(update: TensorMap, global: TensorMap, bound: number): { tensors: TensorMap; clipped: boolean; norm: number } {
  const norm = updateNorm(update, global);
  if (!(bound > 0) || norm <= bound) return { tensors: update, clipped: false, norm };
  const factor = bound / norm;
  const tensors: TensorMap = {};
  for (const [name, t] of Object.entries(update)) {
    const base = global[name];
    if (!FLOAT_DTYPES.has(t.dtype) || base === undefined || base.data.length !== t.data.length) {
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
