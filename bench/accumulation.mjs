// How exact the FedAvg sums are, by accumulator: float64 (what the coordinator keeps, 8 bytes a
// parameter), float32 (4 bytes), and float32 with Kahan's compensated summation (a float32 sum
// and a float32 compensation: 8 bytes again). K float32 updates of P parameters, weighted by
// their numbers of examples, are summed each way; the reference is the same sums in float64 with
// compensation (TwoSum, about 106 bits), against which even the float64 sums show their error.
// Printed: the largest and mean relative error of the sums, and the share of parameters whose
// committed float32 mean differs from the correctly rounded one.
import { seededRandom } from '@tributary/proto';
import { FoldAccumulator } from '../coordinator/dist/strategies/fold-kernel.js';
import { options, report, round, table } from './stack.mjs';

/** A site's model: shared weights (about N(0, 0.05)) moved by its own training (about 1% of them). */
function siteUpdate(base, r) {
  const out = new Float32Array(base.length);
  for (let i = 0; i < base.length; i++) out[i] = base[i] * (1 + (r() - 0.5) * 0.02) + (r() - 0.5) * 1e-3;
  return out;
}

export async function run(args, { quick = false } = {}) {
  const o = options(args, { k: 0, p: 0 });
  const ks = o.k ? [o.k] : [10, 100];
  const p = o.p || (quick ? 100_000 : 1_000_000);
  console.log(`FedAvg accumulation error: K float32 updates of ${p.toLocaleString('en')} parameters, weights 100-10,000 examples`);
  const rows = [];
  for (const k of ks) {
    // The same updates every run.
    const r = seededRandom(k);
    const base = Float32Array.from({ length: p }, () => (r() + r() + r() - 1.5) * 0.1);
    const f64 = new FoldAccumulator([p], false);
    const refHi = new Float64Array(p);
    const refLo = new Float64Array(p);
    const f32 = new Float32Array(p);
    const kSum = new Float32Array(p);
    const kComp = new Float32Array(p);
    let total = 0;
    for (let u = 0; u < k; u++) {
      const x = siteUpdate(base, r);
      const w = 100 + Math.floor(r() * 9901);
      total += w;
      f64.add(0, x, w);
      for (let i = 0; i < p; i++) {
        // w * x is exact in float64 (a 14-bit integer times a 24-bit mantissa): TwoSum keeps the rest.
        const term = w * x[i];
        const s = refHi[i] + term;
        const bb = s - refHi[i];
        refLo[i] += refHi[i] - (s - bb) + (term - bb);
        refHi[i] = s;
        f32[i] = Math.fround(f32[i] + Math.fround(term));
        const y = Math.fround(Math.fround(term) - kComp[i]);
        const t = Math.fround(kSum[i] + y);
        kComp[i] = Math.fround(Math.fround(t - kSum[i]) - y);
        kSum[i] = t;
      }
    }
    const sums64 = f64.sums[0];
    const errors = (sum) => {
      let max = 0;
      let mean = 0;
      let differ = 0;
      for (let i = 0; i < p; i++) {
        const exact = refHi[i] + refLo[i];
        const rel = Math.abs(sum(i) - exact) / Math.abs(exact);
        if (rel > max) max = rel;
        mean += rel;
        if (Math.fround(sum(i) / total) !== Math.fround(exact / total)) differ++;
      }
      return { max, mean: mean / p, differ: differ / p };
    };
    for (const [name, sum] of [
      ['float64', (i) => sums64[i]],
      ['float32', (i) => f32[i]],
      ['float32 + Kahan', (i) => kSum[i] - kComp[i]],
    ]) {
      const e = errors(sum);
      rows.push({ K: k, accumulator: name, 'bytes/param': name === 'float32' ? 4 : 8, 'max rel err': e.max.toExponential(2), 'mean rel err': e.mean.toExponential(2), 'f32 mean differs': `${(e.differ * 100).toFixed(3)}%` });
      report('accumulation', { k, p, accumulator: name, maxRelError: e.max, meanRelError: e.mean, committedDiffers: round(e.differ, 6) }, { ratio: e.max / 2 ** -24, target: 1, met: e.max <= 2 ** -24 });
    }
  }
  table(rows);
}
