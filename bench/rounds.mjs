// Round throughput and coordinator memory for FedAvg: N sites, P float32 parameters.
// The coordinator runs in its own process (`tributary dev`); the sites run here.
import { AdminClient } from '@tributary/coordinator';
import { SiteClient } from '@tributary/client-sdk';
import { encodeSafetensors, generateSigningKey, tensor } from '@tributary/proto';
import { options, startDevStack, table } from './stack.mjs';

export async function run(args) {
  const o = options(args, { sites: 10, params: 1_000_000, rounds: 3 });
  console.log(`FedAvg rounds: ${o.sites} sites, ${o.params.toLocaleString('en')} float32 parameters (${((o.params * 4) / 2 ** 20).toFixed(1)} MiB a model), ${o.rounds} rounds`);
  const stack = await startDevStack();
  const admin = new AdminClient({ address: stack.coordinator, key: stack.adminKey });
  const clients = [];
  const controller = new AbortController();
  try {
    const before = await stack.memory();
    await admin.createFederation({
      name: 'bench',
      settings: { rounds: o.rounds, minSites: o.sites, roundDeadlineSeconds: 600 },
      initialModel: encodeSafetensors({ w: tensor('F32', [o.params], new Float32Array(o.params)) }),
    });
    for (let i = 0; i < o.sites; i++) {
      const key = generateSigningKey(`site-${i}`);
      await admin.addSite({ name: key.name, publicKey: key.publicKey, federations: ['bench'] });
      clients.push(await SiteClient.connect({ coordinator: stack.coordinator, nats: stack.nats, key }));
    }
    const loops = clients.map((client, i) =>
      client.participate(
        'bench',
        async (task) => {
          const w = new Float32Array(task.model['w'].data);
          for (let j = 0; j < w.length; j += 97) w[j] += (i + 1) * 0.001;
          return { weights: { w: tensor('F32', [o.params], w) }, numExamples: 100 + i };
        },
        { signal: controller.signal },
      ),
    );
    const started = Date.now();
    const runInfo = await admin.startRun('bench');
    let peak = before.peakMiB;
    const sampler = setInterval(() => stack.memory().then((m) => (peak = Math.max(peak, m.peakMiB))).catch(() => {}), 200);
    const ended = await admin.waitForRun(runInfo.id, {
      onEvent: (e) => {
        if (e.type === 'ROUND_COMMITTED') process.stdout.write(`  round ${e.round?.number}/${o.rounds} committed\n`);
      },
    });
    clearInterval(sampler);
    const wall = (Date.now() - started) / 1000;
    controller.abort();
    await Promise.all(loops);
    const rounds = await admin.listRounds(runInfo.id);
    const mem = await stack.memory();
    table(
      rounds.map((r) => ({
        round: r.number,
        state: r.state.replace('ROUND_STATE_', ''),
        'seconds (open to commit)': ((r.closedAtMs - r.openedAtMs) / 1000).toFixed(2),
        'aggregation s': (r.metrics['aggregation_seconds'] ?? 0).toFixed(3),
        'MiB received': (r.bytesReceived / 2 ** 20).toFixed(1),
        'MB/s in': (r.bytesReceived / 1e6 / ((r.closedAtMs - r.openedAtMs) / 1000)).toFixed(0),
      })),
    );
    console.log(`run ${ended.status.replace('RUN_STATUS_', '')} in ${wall.toFixed(2)} s`);
    console.log(`coordinator memory: ${before.rssMiB.toFixed(0)} MiB at start, peak ${Math.max(peak, mem.peakMiB).toFixed(0)} MiB (${o.sites} updates of ${((o.params * 4) / 2 ** 20).toFixed(1)} MiB each)`);
  } finally {
    controller.abort();
    for (const c of clients) await c.close().catch(() => {});
    admin.close();
    await stack.stop();
  }
}
