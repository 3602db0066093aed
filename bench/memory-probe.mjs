// Preloaded into the coordinator by bench/stack.mjs when BENCH_MEMORY_PROBE names a directory:
// samples process.memoryUsage() every 100 ms and keeps, in <dir>/memory-<pid>.json, the sample
// taken at the highest resident size, so a peak can be split into V8 heap, external buffers and
// the rest (native allocations, freed memory not yet returned to the system).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.BENCH_MEMORY_PROBE;
if (dir) {
  const MiB = 2 ** 20;
  const file = join(dir, `memory-${process.pid}.json`);
  let peak = 0;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    if (m.rss <= peak) return;
    peak = m.rss;
    const mib = (n) => Math.round(n / MiB);
    const sample = { rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed), heapTotalMiB: mib(m.heapTotal), externalMiB: mib(m.external), arrayBuffersMiB: mib(m.arrayBuffers), otherMiB: mib(m.rss - m.heapTotal - m.external), atMs: Date.now() };
    writeFileSync(file, `${JSON.stringify(sample)}\n`);
  }, 100);
  timer.unref();
}
