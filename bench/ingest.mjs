// Update ingest, from the SDK's submit to the update folded: N sites at once, one round of P
// float32 parameters, against raw acked `js.publish` of the same bytes in the SDK's chunks
// (just under 1 MiB) from N connections, on the same nats-server, in the same run. The round's
// own time (open to commit) also holds the task broadcast and every site's model download.
// `--workers W` (or 0, 1 and 2 by default): W `tributary aggregator` processes read, check and
// fold the updates, and the coordinator combines their partials at close (0: it folds them itself).
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdminClient } from '@tributary/coordinator';
import { generateSigningKey, writeKeyFile } from '@tributary/proto';
import { options, rawPublish, report, round, startDevStack, table } from './stack.mjs';
import { ingestSeconds, roundSeconds, runFederation } from './rounds.mjs';

const CLI = fileURLToPath(new URL('../coordinator/dist/cli/main.js', import.meta.url));

/** Starts `count` aggregation workers against the stack; resolves once each has printed its first line. */
async function startWorkers(stack, admin, count) {
  const workers = [];
  for (let i = 0; i < count; i++) {
    const key = generateSigningKey(`bench-agg-${i}`);
    await admin.addPrincipal({ name: key.name, publicKey: key.publicKey, groups: ['aggregators'] });
    await admin.grant({ privilege: 'read', resource: 'federation:*', grantee: `principal:${key.name}` });
    const keyFile = join(stack.dir, `${key.name}.key`);
    await writeKeyFile(keyFile, key);
    // The workers' log lines go to a file beside the stack, warnings only, so the figures print as a table.
    const log = openSync(join(stack.dir, `${key.name}.log`), 'a');
    const child = spawn(process.execPath, [CLI, 'aggregator', '--coordinator', stack.coordinator, '--key', keyFile, '--nats', stack.nats, '--json', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', log] });
    closeSync(log);
    await new Promise((resolve, reject) => {
      child.stdout.once('data', resolve);
      child.once('exit', (code) => reject(new Error(`tributary aggregator exited with ${code}`)));
    });
    workers.push(child);
  }
  return {
    async stop() {
      await Promise.all(workers.map((w) => (w.exitCode === null ? new Promise((r) => { w.once('exit', r); w.kill('SIGTERM'); }) : undefined)));
    },
  };
}

export async function run(args, { quick = false } = {}) {
  const o = options(args, { sites: 0, params: quick ? 250_000 : 1_000_000, workers: -1 });
  const rows = [];
  for (const workers of o.workers >= 0 ? [o.workers] : [0, 1, 2]) {
    for (const sites of o.sites ? [o.sites] : quick ? [10] : [10, 100]) {
      const stack = await startDevStack({ args: workers > 0 ? ['--aggregation-workers'] : [] });
      const admin = new AdminClient({ address: stack.coordinator, key: stack.adminKey });
      const pool = await startWorkers(stack, admin, workers);
      try {
        const raw = await rawPublish(stack.nats, sites, o.params * 4);
        const res = await runFederation(stack, admin, { sites, params: o.params, rounds: 1 });
        const r = res.rounds[0];
        const seconds = ingestSeconds(r, res.submits).fromSubmit;
        const mbps = r.bytesReceived / 1e6 / seconds;
        const ratio = mbps / raw.mbps;
        rows.push({
          workers,
          sites,
          params: o.params.toLocaleString('en'),
          'ingest s': seconds.toFixed(2),
          'MB/s': mbps.toFixed(1),
          'updates/s': (sites / seconds).toFixed(1),
          'raw publish MB/s': raw.mbps.toFixed(1),
          ratio: ratio.toFixed(3),
          'round s': roundSeconds(r).toFixed(2),
          'coordinator peak MiB': res.peakMiB.toFixed(0),
        });
        report(
          'ingest',
          { workers, sites, params: o.params, mbps: round(mbps, 1), updatesPerSecond: round(sites / seconds, 1), rawPublishMbps: round(raw.mbps, 1), roundSeconds: round(roundSeconds(r), 2), peakMiB: round(res.peakMiB, 0) },
          { ratio, target: 0.6, met: ratio >= 0.6 },
        );
      } finally {
        admin.close();
        await pool.stop();
        await stack.stop();
      }
    }
  }
  table(rows);
}
