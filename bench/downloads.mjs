// Model downloads from one coordinator: one download of a model at a time, then several of the
// same version at once (one connection, as an admin client makes them), with the coordinator's
// peak memory. Downloads share one bound on unsent chunk bytes, so the peak should not grow with
// the number of concurrent downloads.
import { AdminClient } from '@tributary/coordinator';
import { encodeSafetensors, tensor } from '@tributary/proto';
import { options, report, round, startDevStack, table } from './stack.mjs';

export async function run(args, { quick = false } = {}) {
  const o = options(args, { params: quick ? 2_500_000 : 25_000_000, concurrent: 8 });
  const stack = await startDevStack({ args: ['--max-update-bytes', String(o.params * 4 + 1_000_000)] });
  const admin = new AdminClient({ address: stack.coordinator, key: stack.adminKey });
  try {
    await admin.createFederation({ name: 'dl', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 3600 }, initialModel: encodeSafetensors({ w: tensor('F32', [o.params], new Float32Array(o.params)) }) });
    const singles = [];
    let bytes = 0;
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      bytes = (await admin.downloadModel('dl', 1)).bytes.length;
      singles.push((performance.now() - t) / 1000);
    }
    const t = performance.now();
    await Promise.all(Array.from({ length: o.concurrent }, () => admin.downloadModel('dl', 1)));
    const concurrentSeconds = (performance.now() - t) / 1000;
    const single = Math.min(...singles);
    const { peakMiB } = await stack.memory();
    table([{ 'model MB': (bytes / 1e6).toFixed(0), 'one download s (best of 3)': single.toFixed(2), concurrent: o.concurrent, 'all concurrent s': concurrentSeconds.toFixed(2), 'coordinator peak MiB': peakMiB.toFixed(0) }]);
    // ratio: concurrent throughput over one download's (1 = downloads share the link without loss).
    const ratio = (single * o.concurrent) / concurrentSeconds;
    report('downloads', { bytes, singleSeconds: round(single), concurrent: o.concurrent, concurrentSeconds: round(concurrentSeconds), peakMiB: round(peakMiB, 0) }, { ratio: round(ratio), target: null, met: null });
  } finally {
    admin.close();
    await stack.stop();
  }
}
