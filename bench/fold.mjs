// FedAvg fold: K float32 updates of P parameters folded into float64 sums with the coordinator's
// kernel (WebAssembly SIMD, sums resident in its linear memory, updates copied in 256 KiB
// blocks), against `Float32Array.prototype.set` copying the same bytes in the same process:
// FOLD_GROUP updates per pass over the sums (`addMany`, as the aggregator folds updates that
// arrive together), and one by one (`add`). Also the plain JS loop, and float32 accumulation
// with its error against float64.
import { FOLD_GROUP, FoldAccumulator, foldKernelName } from '../coordinator/dist/strategies/fold-kernel.js';
import { bestSeconds, options, report, round, table } from './stack.mjs';

/** Distinct update arrays cycled through (together larger than any cache), not K of them. */
const POOL = 4;

export async function run(args, { quick = false } = {}) {
  const o = options(args, { k: 0, p: 0 });
  const ks = o.k ? [o.k] : quick ? [10] : [10, 100];
  const ps = o.p ? [o.p] : quick ? [1_000_000] : [1_000_000, 10_000_000];
  console.log(`FedAvg fold with the ${foldKernelName()} kernel; updates cycled from ${POOL} distinct arrays`);
  const rows = [];
  for (const p of ps) {
    const pool = Array.from({ length: POOL }, (_, j) => Float32Array.from({ length: p }, (_, i) => Math.sin(i * 0.001 + j) * 0.01));
    const dst = new Float32Array(p);
    for (const k of ks) {
      const bytes = k * p * 4;
      const copy = bestSeconds(() => { for (let u = 0; u < k; u++) dst.set(pool[u % POOL]); });
      const wasm = new FoldAccumulator([p]);
      const simd = bestSeconds(() => {
        for (let u = 0; u < k; u += FOLD_GROUP) {
          const group = [];
          for (let v = u; v < Math.min(u + FOLD_GROUP, k); v++) group.push({ values: pool[v % POOL], weight: 1 + v });
          wasm.addMany(0, group);
        }
      });
      const one = bestSeconds(() => { for (let u = 0; u < k; u++) wasm.add(0, pool[u % POOL], 1 + u); });
      const js = new FoldAccumulator([p], false);
      const plain = bestSeconds(() => { for (let u = 0; u < k; u++) js.add(0, pool[u % POOL], 1 + u); });
      const f32 = new Float32Array(p);
      const single = bestSeconds(() => {
        for (let u = 0; u < k; u++) {
          const x = pool[u % POOL];
          const w = 1 + u;
          for (let i = 0; i < p; i++) f32[i] += w * x[i];
        }
      });
      // Error of float32 sums after one pass over k updates, against float64 sums of the same pass.
      const ref = new FoldAccumulator([p], false);
      const acc32 = new Float32Array(p);
      for (let u = 0; u < k; u++) {
        const x = pool[u % POOL];
        ref.add(0, x, 1 + u);
        for (let i = 0; i < p; i++) acc32[i] += (1 + u) * x[i];
      }
      let maxRel = 0;
      const s = ref.sums[0];
      for (let i = 0; i < p; i++) if (Math.abs(s[i]) > 1e-3) maxRel = Math.max(maxRel, Math.abs(acc32[i] - s[i]) / Math.abs(s[i]));
      const gbs = (sec) => bytes / 1e9 / sec;
      rows.push({
        K: k, P: p.toLocaleString('en'),
        'copy GB/s': gbs(copy).toFixed(2),
        [`wasm x${FOLD_GROUP} GB/s`]: gbs(simd).toFixed(2), ratio: (copy / simd).toFixed(2),
        'wasm x1 GB/s': gbs(one).toFixed(2), 'x1 ratio': (copy / one).toFixed(2),
        'js f64 GB/s': gbs(plain).toFixed(2), 'js ratio': (copy / plain).toFixed(2),
        'js f32-acc GB/s': gbs(single).toFixed(2),
        'f32-acc max rel err': maxRel.toExponential(1),
      });
      const ratio = copy / simd;
      report('fold', { kernel: foldKernelName(), k, p, group: FOLD_GROUP, gbps: round(gbs(simd)), copyGbps: round(gbs(copy)) }, { ratio, target: 0.6, met: ratio >= 0.6 });
      report('fold-one-by-one', { kernel: foldKernelName(), k, p, group: 1, gbps: round(gbs(one)), copyGbps: round(gbs(copy)) }, { ratio: copy / one, target: 0.6, met: copy / one >= 0.6 });
      report('fold-js', { kernel: 'js', k, p, gbps: round(gbs(plain)), copyGbps: round(gbs(copy)) }, { ratio: copy / plain, target: 0.6, met: copy / plain >= 0.6 });
      report('fold-js-f32acc', { kernel: 'js', k, p, gbps: round(gbs(single)), copyGbps: round(gbs(copy)), maxRelError: maxRel }, { ratio: copy / single, target: 0.6, met: copy / single >= 0.6 });
    }
  }
  table(rows);
}
