// Python sites in a Tributary federation: three sites train with their own numpy script
// (examples/python-site/train.py) through the `tributary-site` agent, two with the TypeScript
// SDK, all in one run of federated averaging on the iris flowers, on this machine.
// Run it with `npm run example:python-site`.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SiteClient, type SiteTask, type TrainResult } from '@tributary/client-sdk';
import { NATS_SERVER_INSTALL_HINT, NatsServer } from '@tributary/coordinator';
import { decodeSafetensors, encodeSafetensors, generateSigningKey } from '@tributary/proto';
import { runCleanup, startLocalStack, type CleanupSteps } from '../shared/local-stack.js';
import { NUM_FEATURES, splitIris, type SiteData } from '../quickstart/data.js';
import { PYTHON_SITE_DIR, startPythonSite } from './agent-process.js';
import { accuracy, fromTensors, initModel, toTensors, train } from '../quickstart/model.js';

const FEDERATION = 'iris-py';
const ROUNDS = 5;
const SCRIPT = join(PYTHON_SITE_DIR, 'train.py');

/** Rows [from, to) of a site's data, under a new name. */
function slice(d: SiteData, name: string, from: number, to: number): SiteData {
  return {
    name,
    rows: d.rows.slice(from, to),
    x: d.x.slice(from * NUM_FEATURES, to * NUM_FEATURES),
    y: d.y.slice(from, to),
    size: to - from,
  };
}

function concat(name: string, parts: SiteData[]): SiteData {
  return { name, rows: parts.flatMap((p) => [...p.rows]), x: Float64Array.from(parts.flatMap((p) => [...p.x])), y: Uint8Array.from(parts.flatMap((p) => [...p.y])), size: parts.reduce((n, p) => n + p.size, 0) };
}

async function main(): Promise<number> {
  if (!NatsServer.available()) {
    console.error(NATS_SERVER_INSTALL_HINT);
    return 1;
  }
  // Non-IID: each Python site keeps two thirds of a quickstart site's skewed rows; the two
  // TypeScript sites hold the rest. No row is on two sites.
  const { sites, test } = splitIris();
  const py = sites.map((s) => slice(s, `py-${s.name.slice(-1)}`, 0, Math.floor((s.size * 2) / 3)));
  const rest = sites.map((s) => slice(s, s.name, Math.floor((s.size * 2) / 3), s.size));
  const ts = [concat('ts-1', [rest[0]!, rest[1]!]), concat('ts-2', [rest[2]!])];

  const cleanup: CleanupSteps = [];
  const agents: ChildProcess[] = [];
  try {
    const { nats, coordinator, admin } = await startLocalStack(cleanup, { name: 'python-site' });
    const dir = await mkdtemp(join(tmpdir(), 'tributary-python-site-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await admin.createFederation({
      name: FEDERATION,
      settings: { strategy: 'fedavg', rounds: ROUNDS, minSites: 5, roundDeadlineSeconds: 120 },
      initialModel: encodeSafetensors(toTensors(initModel())),
    });

    // Python sites: a key file, a CSV of their rows, and `tributary-site run -- python3 train.py`,
    // which runs until the run ends.
    for (const site of py) {
      const agent = await startPythonSite({ admin, coordinator: coordinator.address, nats: nats.url, federation: FEDERATION, dir, name: site.name, data: site, script: SCRIPT, onProblem: (line) => console.error(line) });
      agents.push(agent.child);
    }
    cleanup.push(() => agents.forEach((a) => a.kill('SIGINT')));

    // TypeScript sites, as in the quickstart.
    const participating = await Promise.all(
      ts.map(async (data) => {
        const key = generateSigningKey(data.name);
        await admin.addSite({ name: data.name, publicKey: key.publicKey, federations: [FEDERATION] });
        const client = await SiteClient.connect({ coordinator: coordinator.address, nats: nats.url, key });
        cleanup.push(() => client.close());
        // Not awaited here: the sites train while the run goes on; each resolves when the run ends.
        return { done: client.participate(FEDERATION, trainOn(data)) };
      }),
    );

    const run = await admin.startRun(FEDERATION);
    console.log(`run ${run.id}: ${ROUNDS} rounds, Python sites ${py.map((s) => `${s.name} (${s.size} rows)`).join(', ')}; TypeScript sites ${ts.map((s) => `${s.name} (${s.size} rows)`).join(', ')}\n`);
    console.log('round | sites | held-out accuracy');
    const ended = await admin.waitForRun(run.id, {
      onEvent: (e) => {
        if (e.type === 'ROUND_COMMITTED' && e.round) {
          const n = e.round.number;
          const sitesIn = e.round.accepted.map((u) => u.site).sort().join(' ');
          void admin.downloadModel(FEDERATION, Number(e.round.committedVersion)).then(({ bytes }) => {
            console.log(`${String(n).padStart(5)} | ${sitesIn} | ${accuracy(fromTensors(decodeSafetensors(bytes).tensors), test).toFixed(2)}`);
          });
        }
      },
    });
    if (ended.status !== 'RUN_STATUS_FINISHED') throw new Error(`run ${run.id} ended ${ended.status}: ${ended.failureReason}`);
    await Promise.all(participating.map((p) => p.done));
    const { bytes } = await admin.downloadModel(FEDERATION);
    console.log(`\nfinal held-out accuracy: ${accuracy(fromTensors(decodeSafetensors(bytes).tensors), test).toFixed(2)}`);
    return 0;
  } finally {
    await runCleanup(cleanup);
  }
}

function trainOn(site: SiteData) {
  return async (task: SiteTask): Promise<TrainResult> => {
    const { model, loss } = train(fromTensors(task.model), site, { epochs: 20, learningRate: 1 });
    return { weights: toTensors(model), numExamples: site.size, metrics: { loss } };
  };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
