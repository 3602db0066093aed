// One process of sites for the `round` and `large` cases: reads its job as JSON on stdin
// ({ coordinator, nats, federation, params, keys: [key file text], offset, nativeSigning }),
// connects every site, prints `ready` once all are connected, trains (a small deterministic
// change to the global model) and submits until the run ends, then prints one JSON line of what
// it saw (tasks, accepted, refused, failed, peak memory, when the first training returned) and
// exits. `nativeSigning`: the sites sign with node:crypto rather than tweetnacl. `barrier`: in the
// first round every site holds its update once trained; the process prints `trained` when all of
// its sites have, and they all submit at once when it receives SIGUSR2.
import { readFile } from 'node:fs/promises';
import { setMaxListeners } from 'node:events';
import { SiteClient, tensor } from '@tributary/client-sdk';
import { decodeKeyFile, signBytesNative } from '@tributary/proto';

setMaxListeners(0);
let input = '';
for await (const chunk of process.stdin) input += chunk;
const job = JSON.parse(input);

async function peakMiB() {
  const status = await readFile('/proc/self/status', 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

// BENCH_SITE_LOG=debug prints each site's log lines (task received, payload published, verdict)
// on stderr, timed to the millisecond like the coordinator's debug lines, to line them up.
const level = process.env.BENCH_SITE_LOG;
const logLine = (site, lvl) => (obj, msg) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} SITE-${lvl.toUpperCase()} site-${site} ${msg} ${JSON.stringify(obj)}\n`);
const siteLogger = (site) => (level === undefined ? undefined : { info: logLine(site, 'info'), warn: logLine(site, 'warn'), debug: level === 'debug' ? logLine(site, 'debug') : () => {} });

const clients = [];
let release = () => {};
const go = new Promise((resolve) => (release = resolve));
process.on('SIGUSR2', () => release());
let trained = 0;
/** When a training returned, that is when the SDK's submit of its update began (ms): the earliest. */
let firstSubmitMs = Infinity;
try {
  for (const [i, text] of job.keys.entries()) {
    const logger = siteLogger(job.offset + i);
    clients.push(await SiteClient.connect({ coordinator: job.coordinator, nats: job.nats, key: decodeKeyFile(text), ...(job.nativeSigning ? { signer: signBytesNative } : {}), ...(logger === undefined ? {} : { logger }) }));
  }
  process.stdout.write('ready\n');
  const summaries = await Promise.all(
    clients.map((client, i) =>
      client.participate(job.federation, async (task) => {
        // The update is the downloaded model's own values, changed in place: no second copy.
        siteLogger(job.offset + i)?.debug({ round: task.round }, 'training');
        const w = task.model['w']?.data;
        if (!(w instanceof Float32Array)) throw new Error('the global model has no float32 tensor "w"');
        const step = (job.offset + i + 1) * 0.001;
        for (let j = 0; j < w.length; j += 97) w[j] += step;
        if (job.barrier) {
          if (++trained === clients.length) process.stdout.write('trained\n');
          await go;
        }
        firstSubmitMs = Math.min(firstSubmitMs, Date.now());
        return { weights: { w: tensor('F32', [job.params], w) }, numExamples: 100 + job.offset + i };
      }),
    ),
  );
  const total = (k) => summaries.reduce((n, s) => n + s[k], 0);
  process.stdout.write(
    `${JSON.stringify({ tasks: total('tasks'), accepted: total('accepted'), refused: total('refused'), failed: total('failed'), peakMiB: await peakMiB(), firstSubmitMs: Number.isFinite(firstSubmitMs) ? firstSubmitMs : null, end: summaries[0]?.end })}\n`,
  );
} finally {
  for (const c of clients) await c.close().catch(() => {});
}
process.exit(0);
