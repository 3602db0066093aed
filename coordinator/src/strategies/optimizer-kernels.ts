// Numeric kernels of the server optimisers: pure functions over float64 arrays, no orchestration.
// Reddi et al. 2021, "Adaptive Federated Optimization" (ICLR), Algorithm 2 (FedAdagrad, FedYogi,
// FedAdam), and Hsu et al. 2019, "Measuring the Effects of Non-Identical Data Distribution for
// Federated Visual Classification" (FedAvgM). Each round t, with x the global model and Δ the
// pseudo-gradient (weighted mean of the sites' models minus x):
//   m_t = β1·m_{t-1} + (1 - β1)·Δ
//   v_t = v_{t-1} + Δ²                                   (Adagrad)
//   v_t = v_{t-1} - (1 - β2)·Δ²·sign(v_{t-1} - Δ²)       (Yogi)
//   v_t = β2·v_{t-1} + (1 - β2)·Δ²                       (Adam)
//   x_{t+1} = x_t + η·m_t / (√v_t + τ)
// and for FedAvgM: u = β·u + Δ; x_{t+1} = x_t + η·u.
// State arrays are updated in place, so a step needs no memory beyond the state itself.
// Each kernel is written once, as steps that may pause between runs of STEP_ELEMENTS values (a
// model of 1e7 values never holds the event loop whole); run at once it is the plain function.
// Sums run in index order across the pauses, so both give the same result to the last bit.

import { runAtOnce, type Steps } from '@tributary/proto';

/** Elements handled between two pause points of the kernels' steps (well under a millisecond). */
const STEP_ELEMENTS = 1 << 16;

/** `mean[i] -= global[i]`: turns the round's weighted mean into the pseudo-gradient Δ in place. */
export function toPseudoGradient(mean: Float64Array, global: Float64Array): void {
  runAtOnce(toPseudoGradientSteps(mean, global));
}

/** `toPseudoGradient` as steps. */
export function* toPseudoGradientSteps(mean: Float64Array, global: Float64Array): Steps<void> {
  checkLengths(mean, global);
  for (const [start, end] of runs(mean.length)) {
    if (start > 0) yield;
    for (let i = start; i < end; i++) mean[i]! -= global[i]!;
  }
}

/** Σ values[i]², for norms summed over several tensors. */
export function sumOfSquares(values: Float64Array): number {
  return runAtOnce(sumOfSquaresSteps(values));
}

/** `sumOfSquares` as steps, summing in index order. */
export function* sumOfSquaresSteps(values: Float64Array): Steps<number> {
  let sum = 0;
  for (const [start, end] of runs(values.length)) {
    if (start > 0) yield;
    for (let i = start; i < end; i++) sum += values[i]! * values[i]!;
  }
  return sum;
}

/** `m = β1·m + (1 - β1)·Δ` in place. */
export function firstMoment(m: Float64Array, delta: Float64Array, beta1: number): void {
  runAtOnce(firstMomentSteps(m, delta, beta1));
}

/** `firstMoment` as steps. */
export function* firstMomentSteps(m: Float64Array, delta: Float64Array, beta1: number): Steps<void> {
  checkLengths(m, delta);
  const w = 1 - beta1;
  for (const [start, end] of runs(m.length)) {
    if (start > 0) yield;
    for (let i = start; i < end; i++) m[i] = beta1 * m[i]! + w * delta[i]!;
  }
}

/** Adagrad: `v = v + Δ²` in place. */
export function adagradSecondMoment(v: Float64Array, delta: Float64Array): void {
  runAtOnce(adagradSecondMomentSteps(v, delta));
}

/** `adagradSecondMoment` as steps. */
export function* adagradSecondMomentSteps(v: Float64Array, delta: Float64Array): Steps<void> {
  checkLengths(v, delta);
  for (const [start, end] of runs(v.length)) {
    if (start > 0) yield;
    for (let i = start; i < end; i++) v[i]! += delta[i]! * delta[i]!;
  }
}

/** Yogi: `v = v - (1 - β2)·Δ²·sign(v - Δ²)` in place (v moves towards Δ² by a bounded amount). */
export function yogiSecondMoment(v: Float64Array, delta: Float64Array, beta2: number): void {
  runAtOnce(yogiSecondMomentSteps(v, delta, beta2));
}

/** `yogiSecondMoment` as steps. */
export function* yogiSecondMomentSteps(v: Float64Array, delta: Float64Array, beta2: number): Steps<void> {
  checkLengths(v, delta);
  const w = 1 - beta2;
  for (const [start, end] of runs(v.length)) {
    if (start > 0) yield;
    for (let i = start; i < end; i++) {
      const d2 = delta[i]! * delta[i]!;
      v[i]! -= w * d2 * Math.sign(v[i]! - d2);
    }
  }
}

/** Adam: `v = β2·v + (1 - β2)·Δ²` in place. */
export function adamSecondMoment(v: Float64Array, delta: Float64Array, beta2: number): void {
  runAtOnce(adamSecondMomentSteps(v, delta, beta2));
}

/** `adamSecondMoment` as steps. */
export function* adamSecondMomentSteps(v: Float64Array, delta: Float64Array, beta2: number): Steps<void> {
  checkLengths(v, delta);
  const w = 1 - beta2;
  for (const [start, end] of runs(v.length)) {
    if (start > 0) yield;
    for (let i = start; i < end; i++) v[i] = beta2 * v[i]! + w * delta[i]! * delta[i]!;
  }
}

/** `x = x + η·m / (√v + τ)` in place; returns Σ step², the squared norm of the change. */
export function adaptiveStep(x: Float64Array, m: Float64Array, v: Float64Array, eta: number, tau: number): number {
  return runAtOnce(adaptiveStepSteps(x, m, v, eta, tau));
}

/** `adaptiveStep` as steps, summing in index order. */
export function* adaptiveStepSteps(x: Float64Array, m: Float64Array, v: Float64Array, eta: number, tau: number): Steps<number> {
  checkLengths(x, m);
  checkLengths(x, v);
  let sum = 0;
  for (const [start, end] of runs(x.length)) {
    if (start > 0) yield;
    for (let i = start; i < end; i++) {
      const step = (eta * m[i]!) / (Math.sqrt(v[i]!) + tau);
      x[i]! += step;
      sum += step * step;
    }
  }
  return sum;
}

/** FedAvgM: `u = β·u + Δ`, then `x = x + η·u`, both in place; returns Σ step². */
export function momentumStep(
  x: Float64Array,
  momentum: Float64Array,
  delta: Float64Array,
  eta: number,
  beta: number,
): number {
  return runAtOnce(momentumStepSteps(x, momentum, delta, eta, beta));
}

/** `momentumStep` as steps, summing in index order. */
export function* momentumStepSteps(
  x: Float64Array,
  momentum: Float64Array,
  delta: Float64Array,
  eta: number,
  beta: number,
): Steps<number> {
  checkLengths(x, momentum);
  checkLengths(x, delta);
  let sum = 0;
  for (const [start, end] of runs(x.length)) {
    if (start > 0) yield;
    for (let i = start; i < end; i++) {
      const u = beta * momentum[i]! + delta[i]!;
      momentum[i] = u;
      const step = eta * u;
      x[i]! += step;
      sum += step * step;
    }
  }
  return sum;
}

/** `[start, end)` runs of STEP_ELEMENTS covering `0..length`. */
function* runs(length: number): Generator<[number, number]> {
  for (let start = 0; start < length; start += STEP_ELEMENTS) yield [start, Math.min(start + STEP_ELEMENTS, length)];
}

function checkLengths(a: Float64Array, b: Float64Array): void {
  if (a.length !== b.length) throw new RangeError(`length mismatch: ${a.length} and ${b.length}`);
}
