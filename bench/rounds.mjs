// Round throughput and coordinator memory for FedAvg: N sites, P float32 parameters.
// The coordinator runs in its own process (`tributary dev`); the sites run here.
// The `ingest` and `events` cases run one round through `runFederation` too (`small` runs its sites in child processes).
import { setMaxListeners } from 'node:events';
import { AdminClient } from '@tributary/coordinator';
import { SiteClient } from '@tributary/client-sdk';
import { encodeSafetensors, generateSigningKey, signBytesNative, tensor } from '@tributary/proto';
import { options, rawPublish, report, round, startDevStack, table } from './stack.mjs';

/**
 * Runs a fedavg federation of `sites` sites (sharing this process) of `params` float32
 * parameters for `rounds` rounds on `stack`. `during` (optional) runs while the run does and
 * is stopped by its signal when the run ends. Throws if any update was refused or a round did
 * not commit. `nativeSigning`: the sites sign with node:crypto, not tweetnacl, so that many
 * sites in this one process do not bound what is measured of the coordinator.
 */
export async function runFederation(stack, admin, o, during) {
  const clients = [];
  /** When each site's training returned, that is when the SDK's submit of its update began (ms). */
  const submits = [];
  const controller = new AbortController();
  const stopDuring = new AbortController();
  // Every site's loop listens on the one signal.
  setMaxListeners(0, controller.signal);
  try {
    await admin.createFederation({
      name: 'bench',
      settings: { rounds: o.rounds, minSites: o.sites, roundDeadlineSeconds: 600 },
      initialModel: encodeSafetensors({ w: tensor('F32', [o.params], new Float32Array(o.params)) }),
    });
    for (let i = 0; i < o.sites; i++) {
      const key = generateSigningKey(`site-${i}`);
      await admin.addSite({ name: key.name, publicKey: key.publicKey, federations: ['bench'] });
      clients.push(await SiteClient.connect({ coordinator: stack.coordinator, nats: stack.nats, key, ...(o.nativeSigning ? { signer: signBytesNative } : {}) }));
    }
    const loops = clients.map((client, i) =>
      client.participate(
        'bench',
        async (task) => {
          const w = new Float32Array(task.model['w'].data);
          for (let j = 0; j < w.length; j += 97) w[j] += (i + 1) * 0.001;
          submits.push(Date.now());
          return { weights: { w: tensor('F32', [o.params], w) }, numExamples: 100 + i };
        },
        { signal: controller.signal },
      ),
    );
    const before = await stack.memory();
    const started = Date.now();
    const runInfo = await admin.startRun('bench');
    const side = during?.(stopDuring.signal);
    let peak = before.peakMiB;
    const sampler = setInterval(() => stack.memory().then((m) => (peak = Math.max(peak, m.peakMiB))).catch(() => {}), 200);
    const ended = await admin.waitForRun(runInfo.id, {
      onEvent: (e) => {
        if (e.type === 'ROUND_COMMITTED' && o.rounds > 1) process.stdout.write(`  round ${e.round?.number}/${o.rounds} committed\n`);
      },
    });
    clearInterval(sampler);
    stopDuring.abort();
    const sideResult = await side;
    const wall = (Date.now() - started) / 1000;
    controller.abort();
    await Promise.all(loops);
    const rounds = await admin.listRounds(runInfo.id);
    for (const r of rounds) {
      if (r.refused.length > 0) throw new Error(`round ${r.number}: ${r.refused.length} updates refused (first: ${JSON.stringify(r.refused[0])})`);
      if (!r.state.endsWith('COMMITTED')) throw new Error(`round ${r.number} ended ${r.state} ${r.failureReason}`);
      if (r.accepted.length !== o.sites) throw new Error(`round ${r.number}: ${r.accepted.length} of ${o.sites} updates accepted`);
    }
    const mem = await stack.memory();
    return { rounds, wall, status: ended.status, before, peakMiB: Math.max(peak, mem.peakMiB), during: sideResult, submits };
  } finally {
    controller.abort();
    stopDuring.abort();
    for (const c of clients) await c.close().catch(() => {});
  }
}

/** Seconds from a round opening to its commit. */
export function roundSeconds(r) {
  return (r.closedAtMs - r.openedAtMs) / 1000;
}

/**
 * The ingest of a one-round run: seconds from the first site's submit (its training returned;
 * the SDK encodes, hashes and publishes from there) to the last update folded (accepted), and
 * seconds from the first update accepted to the last (the coordinator's pace once busy).
 * The round's own time adds the task broadcast and every site's model download before that.
 */
export function ingestSeconds(r, submits) {
  const accepted = r.accepted.map((u) => u.acceptedAtMs);
  const first = Math.min(...submits);
  return { fromSubmit: (Math.max(...accepted) - first) / 1000, busy: (Math.max(...accepted) - Math.min(...accepted)) / 1000 };
}

export async function run(args, { quick = false } = {}) {
  const o = options(args, quick ? { sites: 4, params: 250_000, rounds: 2 } : { sites: 10, params: 1_000_000, rounds: 3 });
  console.log(`FedAvg rounds: ${o.sites} sites, ${o.params.toLocaleString('en')} float32 parameters (${((o.params * 4) / 2 ** 20).toFixed(1)} MiB a model), ${o.rounds} rounds`);
  const stack = await startDevStack();
  const admin = new AdminClient({ address: stack.coordinator, key: stack.adminKey });
  try {
    const raw = await rawPublish(stack.nats, o.sites, o.params * 4);
    const res = await runFederation(stack, admin, o);
    table(
      res.rounds.map((r) => ({
        round: r.number,
        state: r.state.replace('ROUND_STATE_', ''),
        'seconds (open to commit)': roundSeconds(r).toFixed(2),
        'aggregation s': (r.metrics['aggregation_seconds'] ?? 0).toFixed(3),
        'MiB received': (r.bytesReceived / 2 ** 20).toFixed(1),
        'MB/s in': (r.bytesReceived / 1e6 / roundSeconds(r)).toFixed(0),
      })),
    );
    console.log(`run ${res.status.replace('RUN_STATUS_', '')} in ${res.wall.toFixed(2)} s; raw acked js.publish of the same bytes: ${raw.mbps.toFixed(0)} MB/s`);
    console.log(`coordinator memory: ${res.before.rssMiB.toFixed(0)} MiB at start, peak ${res.peakMiB.toFixed(0)} MiB (${o.sites} updates of ${((o.params * 4) / 2 ** 20).toFixed(1)} MiB each)`);
    const bytes = res.rounds.reduce((n, r) => n + r.bytesReceived, 0);
    const seconds = res.rounds.reduce((n, r) => n + roundSeconds(r), 0);
    const mbps = bytes / 1e6 / seconds;
    const ratio = mbps / raw.mbps;
    report('rounds', { sites: o.sites, params: o.params, rounds: o.rounds, mbps: round(mbps, 1), rawPublishMbps: round(raw.mbps, 1), peakMiB: round(res.peakMiB, 0) }, { ratio, target: 0.6, met: ratio >= 0.6 });
  } finally {
    admin.close();
    await stack.stop();
  }
}
