import { tensor, type TensorMap } from '@tributary/proto';

/** Initial weights of the toy model used by the integration suites. */
export function toyModel(): TensorMap {
  return {
    w: tensor('F32', [2, 3], new Float32Array([0, 0.5, 1, 1.5, 2, 2.5])),
    b: tensor('F32', [3], new Float32Array([0.1, 0.2, 0.3])),
  };
}

/** Deterministic "training": each site nudges every weight by its own amount, different each round. */
export function toyTrain(model: TensorMap, site: string, round: number): TensorMap {
  const seed = [...site].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1000, 7);
  const out: TensorMap = {};
  for (const [name, t] of Object.entries(model)) {
    const data = new Float32Array(t.data as Float32Array);
    for (let i = 0; i < data.length; i++) data[i] = (data[i] ?? 0) + ((seed % 13) - 6) * 0.01 * (i + 1) + round * 0.001;
    out[name] = tensor('F32', [...t.shape], data);
  }
  return out;
}

/** FedAvg computed independently: example-weighted mean, in float64. */
export function referenceFedAvg(updates: Array<{ weights: TensorMap; numExamples: number }>): Record<string, Float64Array> {
  const total = updates.reduce((s, u) => s + u.numExamples, 0);
  const out: Record<string, Float64Array> = {};
  for (const u of updates) {
    for (const [name, t] of Object.entries(u.weights)) {
      const acc = (out[name] ??= new Float64Array(t.data.length));
      const data = t.data as Float32Array;
      for (let i = 0; i < data.length; i++) acc[i] = (acc[i] ?? 0) + (data[i] ?? 0) * (u.numExamples / total);
    }
  }
  return out;
}

/** `model` with `offset` added to every value of its tensor `name`: an update far from it, for norm bounds. */
export function shifted(model: TensorMap, name: string, offset: number): TensorMap {
  const t = model[name];
  if (!t) throw new Error(`no tensor ${name}`);
  return { ...model, [name]: tensor(t.dtype, [...t.shape], (t.data as Float32Array).map((v) => v + offset)) };
}
