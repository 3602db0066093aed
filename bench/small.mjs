// Many small updates: S sites (sharing this process) of 10k float32 parameters in one round.
// Accepted updates per second (round open to commit), against raw acked `js.publish` of as many
// messages of the same size from 10 connections on the same server.
import { AdminClient } from '@tributary/coordinator';
import { options, rawPublish, report, round, startDevStack, table } from './stack.mjs';
import { roundSeconds, runFederation } from './rounds.mjs';

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
    const perSecond = r.accepted.length / roundSeconds(r);
    const ratio = perSecond / raw.msgsPerSecond;
    table([{ sites: o.sites, params: o.params.toLocaleString('en'), 'round s': roundSeconds(r).toFixed(2), 'accepted/s': perSecond.toFixed(0), 'raw publish msgs/s': raw.msgsPerSecond.toFixed(0), ratio: ratio.toFixed(3), 'coordinator peak MiB': res.peakMiB.toFixed(0) }]);
    report('small', { sites: o.sites, params: o.params, updatesPerSecond: round(perSecond, 0), rawPublishPerSecond: round(raw.msgsPerSecond, 0), targetPerSecond: TARGET }, { ratio, target: TARGET, met: perSecond >= TARGET });
  } finally {
    admin.close();
    await stack.stop();
  }
}
