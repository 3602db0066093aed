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

/** `mean[i] -= global[i]`: turns the round's weighted mean into the pseudo-gradient Δ in place. */
export function toPseudoGradient(mean: Float64Array, global: Float64Array): void {
  checkLengths(mean, global);
  for (let i = 0; i < mean.length; i++) mean[i]! -= global[i]!;
}

/** Σ values[i]², for norms summed over several tensors. */
export function sumOfSquares(values: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]! * values[i]!;
  return sum;
}

/** `m = β1·m + (1 - β1)·Δ` in place. */
export function firstMoment(m: Float64Array, delta: Float64Array, beta1: number): void {
  checkLengths(m, delta);
  const w = 1 - beta1;
  for (let i = 0; i < m.length; i++) m[i] = beta1 * m[i]! + w * delta[i]!;
}

/** Adagrad: `v = v + Δ²` in place. */
export function adagradSecondMoment(v: Float64Array, delta: Float64Array): void {
  checkLengths(v, delta);
  for (let i = 0; i < v.length; i++) v[i]! += delta[i]! * delta[i]!;
}

/** Yogi: `v = v - (1 - β2)·Δ²·sign(v - Δ²)` in place (v moves towards Δ² by a bounded amount). */
export function yogiSecondMoment(v: Float64Array, delta: Float64Array, beta2: number): void {
  checkLengths(v, delta);
  const w = 1 - beta2;
  for (let i = 0; i < v.length; i++) {
    const d2 = delta[i]! * delta[i]!;
    v[i]! -= w * d2 * Math.sign(v[i]! - d2);
  }
}

/** Adam: `v = β2·v + (1 - β2)·Δ²` in place. */
export function adamSecondMoment(v: Float64Array, delta: Float64Array, beta2: number): void {
  checkLengths(v, delta);
  const w = 1 - beta2;
  for (let i = 0; i < v.length; i++) v[i] = beta2 * v[i]! + w * delta[i]! * delta[i]!;
}

/** `x = x + η·m / (√v + τ)` in place; returns Σ step², the squared norm of the change. */
export function adaptiveStep(x: Float64Array, m: Float64Array, v: Float64Array, eta: number, tau: number): number {
  checkLengths(x, m);
  checkLengths(x, v);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const step = (eta * m[i]!) / (Math.sqrt(v[i]!) + tau);
    x[i]! += step;
    sum += step * step;
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
  checkLengths(x, momentum);
  checkLengths(x, delta);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const u = beta * momentum[i]! + delta[i]!;
    momentum[i] = u;
    const step = eta * u;
    x[i]! += step;
    sum += step * step;
  }
  return sum;
}

function checkLengths(a: Float64Array, b: Float64Array): void {
  if (a.length !== b.length) throw new RangeError(`length mismatch: ${a.length} and ${b.length}`);
}
