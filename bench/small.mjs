// Many small updates: S sites of 10k float32 parameters in one round, run in P child processes
// (bench/round-site.mjs, `--processes`, default 4), so the coordinator, not the sites sharing
// one process, is what is measured. Every site first gets its task and the model and trains, then
// holds its update until all have (a barrier); they are released together, and accepted updates
// per second are counted from the release to the last update folded, against raw acked `js.publish` of as many messages of the same size
// from 10 connections on the same server. Also printed: the pace from the first acceptance to the
// last (the coordinator busy), and the round's own time, which holds every site's task and model
// download before any submit. The sites sign with node:crypto (tweetnacl signs about 200 a second).
// The run is watched with compact events (WatchRunRequest.detail), as any client that does not
// need the round's lists would.
import { loadavg } from 'node:os';
import { AdminClient } from '@tributary/coordinator';
import { encodeSafetensors, tensor } from '@tributary/proto';
import { options, rawPublish, report, round, startDevStack, table } from './stack.mjs';
import { ingestSeconds, roundSeconds } from './rounds.mjs';
import { startSiteProcesses } from './round.mjs';

const TARGET = 2000;

/** One round of `sites` sites in `processes` processes; throws if an update is refused, a site fails or the round does not commit. */
async function runSmallRound(stack, admin, o) {
  await admin.createFederation({
    name: 'bench',
    settings: { rounds: 1, minSites: o.sites, roundDeadlineSeconds: 600 },
    initialModel: encodeSafetensors({ w: tensor('F32', [o.params], new Float32Array(o.params)) }),
  });
  const sites = await startSiteProcesses(stack, admin, { federation: 'bench', sites: o.sites, params: o.params, processes: o.processes, nativeSigning: true, barrier: true });
  try {
    const before = await stack.memory();
    let peak = before.peakMiB;
    const sampler = setInterval(() => stack.memory().then((m) => (peak = Math.max(peak, m.peakMiB))).catch(() => {}), 200);
    const opened = Date.now();
    const runInfo = await admin.startRun('bench');
    const ending = admin.waitForRun(runInfo.id, { detail: 'RUN_EVENT_DETAIL_COMPACT' }).finally(() => clearInterval(sampler));
    ending.catch(() => {});
    // Every site has its task, the model and its trained update before any submits: the window
    // measured from the release is the coordinator taking in all of them at once.
    await sites.trained();
    const trainedSeconds = (Date.now() - opened) / 1000;
    sites.release();
    const ended = await ending;
    const summaries = await sites.done();
    const [r] = await admin.listRounds(runInfo.id);
    if (r.refused.length > 0) throw new Error(`${r.refused.length} updates refused (first: ${JSON.stringify(r.refused[0])})`);
    if (!r.state.endsWith('COMMITTED')) throw new Error(`round ended ${r.state} ${r.failureReason}`);
    if (r.accepted.length !== o.sites) throw new Error(`${r.accepted.length} of ${o.sites} updates accepted`);
    const failed = summaries.reduce((n, s) => n + s.failed + s.refused, 0);
    if (failed > 0) throw new Error(`${failed} site tasks failed or were refused`);
    if (!ended.status.endsWith('FINISHED')) throw new Error(`run ended ${ended.status}`);
    const mem = await stack.memory();
    return { round: r, trainedSeconds, submits: summaries.map((s) => s.firstSubmitMs).filter((t) => t !== null), peakMiB: Math.max(peak, mem.peakMiB), sitePeakMiB: Math.max(...summaries.map((s) => s.peakMiB)) };
  } finally {
    sites.kill();
  }
}

export async function run(args, { quick = false } = {}) {
  const o = options(args, { sites: quick ? 100 : 1000, params: 10_000, processes: quick ? 2 : 4 });
  const stack = await startDevStack();
  const admin = new AdminClient({ address: stack.coordinator, key: stack.adminKey });
  try {
    const connections = 10;
    const size = o.params * 4;
    const raw = await rawPublish(stack.nats, connections, (size * o.sites) / connections, size);
    console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (the machine may be shared: figures are noisy)`);
    console.log(`${o.sites} sites in ${o.processes} processes, ${o.params.toLocaleString('en')} float32 parameters`);
    const res = await runSmallRound(stack, admin, o);
    const r = res.round;
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
        'all trained s': res.trainedSeconds.toFixed(2),
        'round s': roundSeconds(r).toFixed(2),
        'coordinator peak MiB': res.peakMiB.toFixed(0),
        'site process peak MiB': res.sitePeakMiB.toFixed(0),
      },
    ]);
    console.log(`accepted/s from the release: ${perSecond.toFixed(0)}; once busy (first acceptance to last): ${busyPerSecond.toFixed(0)}; load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    report(
      'small',
      { sites: o.sites, processes: o.processes, params: o.params, updatesPerSecond: round(perSecond, 0), busyUpdatesPerSecond: round(busyPerSecond, 0), rawPublishPerSecond: round(raw.msgsPerSecond, 0), allTrainedSeconds: round(res.trainedSeconds, 2), roundSeconds: round(roundSeconds(r), 2), targetPerSecond: TARGET },
      { ratio, target: TARGET, met: perSecond >= TARGET },
    );
  } finally {
    admin.close();
    await stack.stop();
  }
}
