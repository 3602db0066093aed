// Preloaded into the coordinator by bench/stack.mjs when BENCH_LOOP_PROBE names a file: measures
// the delay of the coordinator's own event loop (node:perf_hooks monitorEventLoopDelay, sampled
// every 5 ms). On SIGUSR2 it writes the delays seen since the last signal (count, p50, p99 and
// max in ms) to that file and starts again, so a benchmark can tell a blocked event loop from
// calls that wait for a core.
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const file = process.env.BENCH_LOOP_PROBE;
if (file) {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  process.on('SIGUSR2', () => {
    const ms = (ns) => Math.round(ns / 1e4) / 100;
    writeFileSync(file, `${JSON.stringify({ count: delay.count, p50Ms: ms(delay.percentile(50)), p99Ms: ms(delay.percentile(99)), maxMs: ms(delay.max), atMs: Date.now() })}\n`);
    delay.reset();
  });
}
