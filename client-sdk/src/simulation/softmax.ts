// Softmax regression (multinomial logistic regression) in plain typed arrays: scores = x·w + b,
// probabilities = softmax(scores), trained by full-batch gradient descent on the cross-entropy.
// Array indices below are in range by construction, hence the `!`s.
import { fromFloat64, toFloat64, type TensorMap } from '@tributary/proto';
import { NUM_CLASSES, NUM_FEATURES, type Dataset } from './iris.js';

export interface SoftmaxModel {
  /** Weights, [NUM_FEATURES, NUM_CLASSES] row-major. */
  readonly w: Float64Array;
  /** Biases, [NUM_CLASSES]. */
  readonly b: Float64Array;
}

export interface TrainOptions {
  epochs: number;
  learningRate: number;
  /** Called after each epoch with the training loss before that epoch's step. */
  onEpoch?: (epoch: number, loss: number) => void;
}

export function initModel(): SoftmaxModel {
  return { w: new Float64Array(NUM_FEATURES * NUM_CLASSES), b: new Float64Array(NUM_CLASSES) };
}

/** The model as the federation's tensors: "w" F32 [4, 3] and "b" F32 [3]. */
export function toTensors(model: SoftmaxModel): TensorMap {
  return {
    w: fromFloat64('F32', [NUM_FEATURES, NUM_CLASSES], model.w),
    b: fromFloat64('F32', [NUM_CLASSES], model.b),
  };
}

export function fromTensors(tensors: TensorMap): SoftmaxModel {
  const { w, b } = tensors;
  if (w === undefined || b === undefined) throw new Error('model must have tensors "w" and "b"');
  return { w: toFloat64(w), b: toFloat64(b) };
}

/** Trains a copy of `start` on `data`; returns it with the loss after the last step. */
export function train(start: SoftmaxModel, data: Dataset, options: TrainOptions): { model: SoftmaxModel; loss: number } {
  const model = { w: Float64Array.from(start.w), b: Float64Array.from(start.b) };
  const gradW = new Float64Array(model.w.length);
  const gradB = new Float64Array(model.b.length);
  const p = new Float64Array(NUM_CLASSES);
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    gradW.fill(0);
    gradB.fill(0);
    let loss = 0;
    for (let i = 0; i < data.size; i++) {
      probabilities(model, data.x, i, p);
      const label = data.y[i]!;
      loss -= Math.log(Math.max(p[label]!, 1e-12));
      // d(cross-entropy)/d(scores) = p - onehot(label)
      for (let c = 0; c < NUM_CLASSES; c++) {
        const delta = p[c]! - (c === label ? 1 : 0);
        gradB[c]! += delta;
        for (let f = 0; f < NUM_FEATURES; f++) gradW[f * NUM_CLASSES + c]! += delta * data.x[i * NUM_FEATURES + f]!;
      }
    }
    const step = options.learningRate / data.size;
    for (let k = 0; k < model.w.length; k++) model.w[k]! -= step * gradW[k]!;
    for (let c = 0; c < model.b.length; c++) model.b[c]! -= step * gradB[c]!;
    options.onEpoch?.(epoch, loss / data.size);
  }
  return { model, loss: crossEntropy(model, data) };
}

/** Mean cross-entropy of the model on a data set. */
export function crossEntropy(model: SoftmaxModel, data: Dataset): number {
  const p = new Float64Array(NUM_CLASSES);
  let loss = 0;
  for (let i = 0; i < data.size; i++) {
    probabilities(model, data.x, i, p);
    loss -= Math.log(Math.max(p[data.y[i]!]!, 1e-12));
  }
  return data.size === 0 ? 0 : loss / data.size;
}

/** The most probable class of each row. */
export function predict(model: SoftmaxModel, data: Dataset): Uint8Array {
  const out = new Uint8Array(data.size);
  const p = new Float64Array(NUM_CLASSES);
  for (let i = 0; i < data.size; i++) {
    probabilities(model, data.x, i, p);
    let best = 0;
    for (let c = 1; c < NUM_CLASSES; c++) if (p[c]! > p[best]!) best = c;
    out[i] = best;
  }
  return out;
}

/** Share of rows whose predicted class is the label. */
export function accuracy(model: SoftmaxModel, data: Dataset): number {
  const predicted = predict(model, data);
  let correct = 0;
  for (let i = 0; i < data.size; i++) if (predicted[i] === data.y[i]) correct++;
  return data.size === 0 ? 0 : correct / data.size;
}

/** Writes softmax(x_row · w + b) into `out`. */
function probabilities(model: SoftmaxModel, x: Float64Array, row: number, out: Float64Array): void {
  let max = -Infinity;
  for (let c = 0; c < NUM_CLASSES; c++) {
    let score = model.b[c]!;
    for (let f = 0; f < NUM_FEATURES; f++) score += x[row * NUM_FEATURES + f]! * model.w[f * NUM_CLASSES + c]!;
    out[c] = score;
    max = Math.max(max, score);
  }
  let sum = 0;
  for (let c = 0; c < NUM_CLASSES; c++) {
    const e = Math.exp(out[c]! - max);
    out[c] = e;
    sum += e;
  }
  for (let c = 0; c < NUM_CLASSES; c++) out[c]! /= sum;
}
