// Update ingest, from the SDK's submit to the update folded: N sites at once, one round of P
// float32 parameters, against raw acked `js.publish` of the same bytes in the SDK's chunks
// (just under 1 MiB) from N connections, on the same nats-server, in the same run. The round's
// own time (open to commit) also holds the task broadcast and every site's model download.
import { AdminClient } from '@tributary/coordinator';
import { options, rawPublish, report, round, startDevStack, table } from './stack.mjs';
import { ingestSeconds, roundSeconds, runFederation } from './rounds.mjs';

export async function run(args, { quick = false } = {}) {
  const o = options(args, { sites: 0, params: quick ? 250_000 : 1_000_000 });
  const rows = [];
  for (const sites of o.sites ? [o.sites] : quick ? [10] : [10, 100]) {
    const stack = await startDevStack();
    const admin = new AdminClient({ address: stack.coordinator, key: stack.adminKey });
    try {
      const raw = await rawPublish(stack.nats, sites, o.params * 4);
      const res = await runFederation(stack, admin, { sites, params: o.params, rounds: 1 });
      const r = res.rounds[0];
      const seconds = ingestSeconds(r, res.submits).fromSubmit;
      const mbps = r.bytesReceived / 1e6 / seconds;
      const ratio = mbps / raw.mbps;
      rows.push({
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
        { sites, params: o.params, mbps: round(mbps, 1), updatesPerSecond: round(sites / seconds, 1), rawPublishMbps: round(raw.mbps, 1), roundSeconds: round(roundSeconds(r), 2), peakMiB: round(res.peakMiB, 0) },
        { ratio, target: 0.6, met: ratio >= 0.6 },
      );
    } finally {
      admin.close();
      await stack.stop();
    }
  }
  table(rows);
}
