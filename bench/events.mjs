// Read latency under ingest: an AdminService read call (ListFederations) made back to back while
// a round of N sites of P float32 parameters is ingested; p99 against the same call's p99 on the
// idle coordinator in the same run (ratio = idle p99 / loaded p99). The probe has an event loop
// of its own (a worker thread), so the sites this process runs do not delay its calls.
import { Worker } from 'node:worker_threads';
import { AdminClient } from '@tributary/coordinator';
import { options, report, round, startDevStack, table } from './stack.mjs';
import { roundSeconds, runFederation } from './rounds.mjs';

const TARGET_MS = 50;

export async function run(args, { quick = false } = {}) {
  const o = options(args, { sites: 10, params: quick ? 1_000_000 : 10_000_000 });
  const stack = await startDevStack({ loopProbe: true });
  const admin = new AdminClient({ address: stack.coordinator, key: stack.adminKey });
  // The probe runs in a worker thread (events-probe.mjs): this process also runs the sites.
  const probe = (signal, limit) =>
    new Promise((resolve, reject) => {
      const worker = new Worker(new URL('./events-probe.mjs', import.meta.url), { workerData: { address: stack.coordinator, keyFile: stack.keyFile, limit } });
      const stop = () => worker.postMessage('stop');
      signal.addEventListener('abort', stop, { once: true });
      worker.once('message', (ms) => resolve(Float64Array.from(ms).sort()));
      worker.once('error', reject);
      worker.once('exit', () => signal.removeEventListener('abort', stop));
    });
  try {
    const idle = await probe(new AbortController().signal, 200);
    // The coordinator's own event-loop delay over the round: a blocked loop, as against calls
    // that wait for a core while the sites, nats-server and the coordinator share two.
    await stack.loopDelay();
    const res = await runFederation(stack, admin, { sites: o.sites, params: o.params, rounds: 1 }, (signal) => probe(signal));
    const loop = await stack.loopDelay();
    const loaded = res.during;
    const p = (a, q) => a[Math.min(a.length - 1, Math.floor(q * a.length))] ?? NaN;
    const ratio = p(idle, 0.99) / p(loaded, 0.99);
    table([{ sites: o.sites, params: o.params.toLocaleString('en'), 'round s': roundSeconds(res.rounds[0]).toFixed(2), calls: loaded.length, 'idle p99 ms': p(idle, 0.99).toFixed(1), 'p50 ms': p(loaded, 0.5).toFixed(1), 'p99 ms': p(loaded, 0.99).toFixed(1), 'max ms': (loaded.at(-1) ?? NaN).toFixed(1), 'loop delay p99 ms': loop.p99Ms.toFixed(1), 'loop delay max ms': loop.maxMs.toFixed(1) }]);
    report('events', { sites: o.sites, params: o.params, calls: loaded.length, p50Ms: round(p(loaded, 0.5), 1), p99Ms: round(p(loaded, 0.99), 1), idleP99Ms: round(p(idle, 0.99), 1), loopDelayP99Ms: loop.p99Ms, loopDelayMaxMs: loop.maxMs, targetMs: TARGET_MS }, { ratio, target: TARGET_MS, met: p(loaded, 0.99) <= TARGET_MS });
  } finally {
    admin.close();
    await stack.stop();
  }
}
