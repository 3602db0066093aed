// Two spam models over hashed features: logistic regression trained by plain SGD (the model the
// sites average), and multinomial naive Bayes (a different kind of member for the ensemble,
// shipped as opaque bytes). Array indices below are in range by construction, hence the `!`s.
import { tensor, type TensorMap } from '@tributary/proto';
import { seededRandom } from '../shared/random.js';
import type { HashingSpec, SparseDataset } from './features.js';

export interface LogisticModel {
  readonly spec: HashingSpec;
  /** One weight per hash bucket. */
  readonly w: Float32Array;
  /** Bias, [1]. */
  readonly b: Float32Array;
}

export interface SgdOptions {
  epochs: number;
  learningRate: number;
  /** Seed of the example order. */
  seed: number;
}

export function initLogistic(spec: HashingSpec): LogisticModel {
  return { spec, w: new Float32Array(1 << spec.bits), b: new Float32Array(1) };
}

/** The model as tensors: "w" F32 [2^bits], "b" F32 [1], and its hashing as "hashing" I32 [bits, seed]. */
export function logisticToTensors(model: LogisticModel): TensorMap {
  return {
    w: tensor('F32', [model.w.length], model.w),
    b: tensor('F32', [1], model.b),
    hashing: tensor('I32', [2], Int32Array.of(model.spec.bits, model.spec.seed)),
  };
}

export function logisticFromTensors(tensors: TensorMap): LogisticModel {
  const { w, b, hashing } = tensors;
  if (w?.dtype !== 'F32' || b?.dtype !== 'F32' || hashing?.dtype !== 'I32') throw new Error('model must have tensors "w" F32, "b" F32 and "hashing" I32');
  const [bits, seed] = hashing.data as Int32Array;
  const spec = { bits: bits!, seed: seed! };
  if (w.data.length !== 1 << spec.bits) throw new Error(`"w" has ${w.data.length} values, expected 2^${spec.bits}`);
  return { spec, w: Float32Array.from(w.data as Float32Array), b: Float32Array.from(b.data as Float32Array) };
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/**
 * Trains `model` in place by SGD on the log loss; returns the mean loss of the last epoch. The
 * hot loop touches only typed arrays: one sparse dot product and one sparse update per email.
 */
export function trainLogistic(model: LogisticModel, data: SparseDataset, opts: SgdOptions): number {
  const { w, b } = model;
  const { offsets, indices, values, labels } = data;
  const order = Int32Array.from({ length: data.size }, (_, i) => i);
  const random = seededRandom(opts.seed);
  let loss = 0;
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    loss = 0;
    const rate = opts.learningRate / Math.sqrt(1 + epoch);
    for (let n = 0; n < order.length; n++) {
      const row = order[n]!;
      const start = offsets[row]!;
      const end = offsets[row + 1]!;
      let z = b[0]!;
      for (let k = start; k < end; k++) z += w[indices[k]!]! * values[k]!;
      const p = sigmoid(z);
      const y = labels[row]!;
      loss -= y === 1 ? Math.log(Math.max(p, 1e-12)) : Math.log(Math.max(1 - p, 1e-12));
      const step = rate * (p - y);
      b[0]! -= step;
      for (let k = start; k < end; k++) w[indices[k]!]! -= step * values[k]!;
    }
    loss /= Math.max(order.length, 1);
  }
  return loss;
}

/** P(spam) of every row. */
export function logisticProbabilities(model: LogisticModel, data: SparseDataset): Float64Array {
  const out = new Float64Array(data.size);
  for (let row = 0; row < data.size; row++) {
    let z = model.b[0]!;
    for (let k = data.offsets[row]!; k < data.offsets[row + 1]!; k++) z += model.w[data.indices[k]!]! * data.values[k]!;
    out[row] = sigmoid(z);
  }
  return out;
}

/** Multinomial naive Bayes over hashed counts: log P(bucket | class) and log priors. */
export interface NaiveBayesModel {
  readonly spec: HashingSpec;
  /** [2, 2^bits]: ham row, then spam row. */
  readonly logLikelihood: Float32Array;
  /** [ham, spam]. */
  readonly logPrior: Float32Array;
}

export function trainNaiveBayes(spec: HashingSpec, data: SparseDataset, smoothing = 0.1): NaiveBayesModel {
  const dims = 1 << spec.bits;
  const counts = new Float64Array(2 * dims);
  const classes = new Float64Array(2);
  for (let row = 0; row < data.size; row++) {
    const y = data.labels[row]!;
    classes[y]!++;
    for (let k = data.offsets[row]!; k < data.offsets[row + 1]!; k++) counts[y * dims + data.indices[k]!]! += data.values[k]!;
  }
  const logLikelihood = new Float32Array(2 * dims);
  for (let y = 0; y < 2; y++) {
    let total = 0;
    for (let d = 0; d < dims; d++) total += counts[y * dims + d]!;
    const denominator = Math.log(total + smoothing * dims);
    for (let d = 0; d < dims; d++) logLikelihood[y * dims + d] = Math.log(counts[y * dims + d]! + smoothing) - denominator;
  }
  const logPrior = Float32Array.of(Math.log((classes[0]! + 1) / (data.size + 2)), Math.log((classes[1]! + 1) / (data.size + 2)));
  return { spec, logLikelihood, logPrior };
}

/** P(spam) of every row. */
export function naiveBayesProbabilities(model: NaiveBayesModel, data: SparseDataset): Float64Array {
  const dims = 1 << model.spec.bits;
  const out = new Float64Array(data.size);
  for (let row = 0; row < data.size; row++) {
    let ham = model.logPrior[0]!;
    let spam = model.logPrior[1]!;
    for (let k = data.offsets[row]!; k < data.offsets[row + 1]!; k++) {
      ham += data.values[k]! * model.logLikelihood[data.indices[k]!]!;
      spam += data.values[k]! * model.logLikelihood[dims + data.indices[k]!]!;
    }
    out[row] = sigmoid(spam - ham);
  }
  return out;
}

/** Flavor of a naive Bayes member in an ensemble. */
export const NAIVE_BAYES_FLAVOR = 'custom:naive-bayes';

/** Bytes: bits (I32), seed (I32), the two log priors, then the log likelihoods (F32, little-endian). */
export function encodeNaiveBayes(model: NaiveBayesModel): Uint8Array {
  const bytes = new Uint8Array(8 + 4 * (2 + model.logLikelihood.length));
  const view = new DataView(bytes.buffer);
  view.setInt32(0, model.spec.bits, true);
  view.setInt32(4, model.spec.seed, true);
  const floats = [...model.logPrior, ...model.logLikelihood];
  floats.forEach((v, i) => view.setFloat32(8 + 4 * i, v, true));
  return bytes;
}

export function decodeNaiveBayes(bytes: Uint8Array): NaiveBayesModel {
  if (bytes.length < 8) throw new Error('naive Bayes payload is too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const spec = { bits: view.getInt32(0, true), seed: view.getInt32(4, true) };
  if (spec.bits < 4 || spec.bits > 24 || bytes.length !== 8 + 4 * (2 + 2 * (1 << spec.bits))) throw new Error('naive Bayes payload has the wrong size');
  const floats = Float32Array.from({ length: 2 + 2 * (1 << spec.bits) }, (_, i) => view.getFloat32(8 + 4 * i, true));
  return { spec, logPrior: floats.slice(0, 2), logLikelihood: floats.slice(2) };
}

export interface Scores {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
}

/** Spam is the positive class; a row is called spam when P(spam) >= 0.5. */
export function score(probabilities: ArrayLike<number>, labels: Uint8Array): Scores {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const predicted = probabilities[i]! >= 0.5 ? 1 : 0;
    if (predicted === labels[i]) correct++;
    if (predicted === 1 && labels[i] === 1) tp++;
    else if (predicted === 1) fp++;
    else if (labels[i] === 1) fn++;
  }
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  return { accuracy: labels.length === 0 ? 0 : correct / labels.length, precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall) };
}
