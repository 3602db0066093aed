// Many small updates: S sites (sharing this process) of 10k float32 parameters in one round.
// Accepted updates per second from the first site's submit to the last update folded, against
// raw acked `js.publish` of as many messages of the same size from 10 connections on the same
// server. Also printed: the pace from the first acceptance to the last (the coordinator busy),
// and the round's own time, which holds every site's task and model download before any submit.
// The sites sign with node:crypto: with tweetnacl, 1,000 sites in one process take 10-20 s to
// sign their manifests alone, and the "from first submit" figure measured the bench.
import { loadavg } from 'node:os';
import { AdminClient } from '@tributary/coordinator';
import { options, rawPublish, report, round, startDevStack, table } from './stack.mjs';
import { ingestSeconds, roundSeconds, runFederation } from './rounds.mjs';

const TARGET = 2000;

export async function run(args, { quick = false } = {}) {
  const o = options(args, { sites: quick ? 100 : 1000, params: 10_000 });
  const stack = await startDevStack();
  const admin = new AdminClient({ address: stack.coordinator, key: stack.adminKey });
  try {
    const connections = 10;
    const size = o.params * 4;
    const raw = await rawPublish(stack.nats, connections, (size * o.sites) / connections, size);
    console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (the machine may be shared: figures are noisy)`);
    const res = await runFederation(stack, admin, { sites: o.sites, params: o.params, rounds: 1, nativeSigning: true });
    const r = res.rounds[0];
    const window = ingestSeconds(r, res.submits);
    const perSecond = r.accepted.length / window.fromSubmit;
    const busyPerSecond = (r.accepted.length - 1) / window.busy;
    const ratio = perSecond / raw.msgsPerSecond;
    table([
      {
        sites: o.sites,
        params: o.params.toLocaleString('en'),
        'ingest s': window.fromSubmit.toFixed(2),
        'accepted/s': perSecond.toFixed(0),
        'accepted/s busy': busyPerSecond.toFixed(0),
        'raw publish msgs/s': raw.msgsPerSecond.toFixed(0),
        ratio: ratio.toFixed(3),
        'round s': roundSeconds(r).toFixed(2),
        'coordinator peak MiB': res.peakMiB.toFixed(0),
      },
    ]);
    console.log(`accepted/s from the first submit: ${perSecond.toFixed(0)}; once busy (first acceptance to last): ${busyPerSecond.toFixed(0)}; load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    report(
      'small',
      { sites: o.sites, params: o.params, updatesPerSecond: round(perSecond, 0), busyUpdatesPerSecond: round(busyPerSecond, 0), rawPublishPerSecond: round(raw.msgsPerSecond, 0), roundSeconds: round(roundSeconds(r), 2), targetPerSecond: TARGET },
      { ratio, target: TARGET, met: perSecond >= TARGET },
    );
  } finally {
    admin.close();
    await stack.stop();
  }
}
