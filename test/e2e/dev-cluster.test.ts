import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient } from '@tributary/coordinator';
import { encodeSafetensors, readKeyFile, type SigningKey } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, type CliProcess } from '../helpers/cli.js';
import { addSites } from '../helpers/process-stack.js';
import { RawSite } from '../helpers/raw-site.js';
import { eventually } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

interface DevStarted {
  result: { coordinator: string; nats: string; natsCluster?: string[]; keyFile: string; dir: string };
}

/** While a stream elects a leader its publishes find no responder: the same message again, as the SDK does. */
const ELECTION_RETRY = { initialDelayMs: 250, maxDelayMs: 2_000, maxAttempts: 60 } as const;

describe('tributary dev --cluster 3', () => {
  let dir: string;
  let dev: CliProcess | undefined;
  let started: DevStarted['result'];
  let admin: AdminClient;

  async function startDev(): Promise<void> {
    dev = await startCli(['dev', '--dir', join(dir, 'dev'), '--cluster', '3', '--grpc-listen', '127.0.0.1:0', '--json'], { withoutOuterSettings: true });
    const line = JSON.parse(dev.firstLine) as DevStarted & { ok: boolean };
    if (!line.ok) throw new Error(`tributary dev did not start: ${dev.firstLine}`);
    started = line.result;
    admin = new AdminClient({ address: started.coordinator, key: await readKeyFile(started.keyFile) });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-dev-cluster-'));
    await startDev();
  }, 120_000);
  afterAll(async () => {
    admin?.close();
    await dev?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a round with a site, and the next round still commits after one nats-server node is killed', async () => {
    expect(started.natsCluster).toHaveLength(3);
    const base = toyModel();
    await admin.createFederation({ name: 'clustered', settings: { rounds: 2, minSites: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(base) });
    const keys = await addSites({ admin }, 'clustered', ['solo']);
    const coordinatorKey = (await readKeyFile(join(started.dir, 'data', 'coordinator.key'))).publicKey;
    const run = await admin.startRun('clustered');
    const send = async (round: number): Promise<void> => {
      await eventually(async () => ((await admin.getRun(run.id)).currentRound === round ? true : undefined), 60_000);
      const servers = started.natsCluster ?? [];
      const raw = await RawSite.connect(servers[0] as string, coordinatorKey, { servers, maxReconnectAttempts: -1 });
      try {
        const verdict = await raw.send({ key: keys['solo'] as SigningKey, site: 'solo', federation: 'clustered', runId: run.id, round, weights: toyTrain(base, 'solo', round), retry: ELECTION_RETRY }, 120_000);
        expect(verdict).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
      } finally {
        await raw.close();
      }
    };
    await send(1);
    // kill -9 of the node in the middle of the list (dev wrote each node's pid file).
    const pid = Number((await readFile(join(started.dir, 'nats-cluster', 'n2.pid'), 'utf8')).trim());
    process.kill(pid, 'SIGKILL');
    await send(2);
    const ended = await admin.waitForRun(run.id);
    expect(ended.status).toBe('RUN_STATUS_FINISHED');
    expect((await admin.listRounds(run.id)).map((r) => r.state)).toEqual(['ROUND_STATE_COMMITTED', 'ROUND_STATE_COMMITTED']);
  }, 180_000);

  it('keeps the cluster ports when started again on the same directory', async () => {
    const before = started.natsCluster;
    admin.close();
    await dev?.stop();
    await startDev();
    expect(started.natsCluster).toEqual(before);
  }, 120_000);
});
