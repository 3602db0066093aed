import {
  MAX_EXACT_INTEGER,
  MAX_SAFETENSORS_TENSORS,
  Reason,
  TributaryError,
  allFinite,
  checkSpec,
  decodeSafetensors,
  firstInexactInteger,
  tensorSpecsOf,
  type TensorMap,
  type TensorSpec__Output,
} from '@tributary/proto';

/** A checked initial model: its tensors and the spec every update must then match. */
export interface InitialModel {
  readonly tensors: TensorMap;
  readonly modelSpec: TensorSpec__Output[];
}

/**
 * Checks a federation's initial weights as strictly as any update, since every norm and every
 * aggregate starts from them: a safetensors file naming each tensor once (SCHEMA_MISMATCH), at
 * most MAX_SAFETENSORS_TENSORS tensors, every value finite (NON_FINITE), I64 values exact in
 * float64 (VALUE_OUT_OF_RANGE), and, when the federation's spec is already known, matching it
 * (SCHEMA_MISMATCH). A homogeneous federation's model needs at least one tensor. Throws a
 * TributaryError with the reason; returns the tensors and the spec they define.
 */
export function checkInitialModel(payload: Uint8Array, opts: { heterogeneous: boolean; spec?: readonly TensorSpec__Output[] }): InitialModel {
  if (payload.byteLength === 0) throw TributaryError.invalidArgument('initial_model is required: a safetensors file of the initial weights');
  let tensors: TensorMap;
  try {
    tensors = decodeSafetensors(payload, { maxTensors: MAX_SAFETENSORS_TENSORS }).tensors;
  } catch (err) {
    const e = TributaryError.from(err);
    throw TributaryError.of(e.reason === Reason.SCHEMA_MISMATCH ? Reason.SCHEMA_MISMATCH : Reason.MALFORMED_PAYLOAD, `initial_model: ${e.message}`);
  }
  const modelSpec = tensorSpecsOf(tensors);
  // Ensembles take models of any shape: their initial model may be empty.
  if (modelSpec.length === 0 && !opts.heterogeneous) throw TributaryError.invalidArgument('initial_model holds no tensors');
  if (opts.spec !== undefined) {
    const mismatch = checkSpec(opts.spec, modelSpec);
    if (mismatch !== undefined) throw TributaryError.of(Reason.SCHEMA_MISMATCH, `initial_model does not match the model spec: ${mismatch}`);
  }
  for (const [name, t] of Object.entries(tensors)) {
    if (!allFinite(t)) throw TributaryError.of(Reason.NON_FINITE, `initial_model: tensor "${name}" has a NaN or infinite value`);
    const inexact = firstInexactInteger(t);
    if (inexact >= 0) throw TributaryError.of(Reason.VALUE_OUT_OF_RANGE, `initial_model: tensor "${name}" holds ${String(t.data[inexact])}, beyond ±${MAX_EXACT_INTEGER}`);
  }
  return { tensors, modelSpec };
}
