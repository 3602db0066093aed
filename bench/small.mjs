// Many small updates: S sites (sharing this process) of 10k float32 parameters in one round.
// Accepted updates per second from the first site's submit to the last update folded, against
// raw acked `js.publish` of as many messages of the same size from 10 connections on the same
// server. Also printed: the pace from the first acceptance to the last (the coordinator busy),
// and the round's own time, which holds every site's task and model download before any submit.
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
    const res = await runFederation(stack, admin, { sites: o.sites, params: o.params, rounds: 1 });
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
