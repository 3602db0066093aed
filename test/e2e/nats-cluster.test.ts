import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SiteClient } from '@tributary/client-sdk';
import { AdminClient, Coordinator, createLogger } from '@tributary/coordinator';
import { encodeSafetensors, generateSigningKey, STREAM_METRICS, STREAM_PAYLOADS, STREAM_UPDATES, type SigningKey } from '@tributary/proto';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsCluster, type NatsCluster } from '../helpers/nats-cluster.js';
import { RawSite } from '../helpers/raw-site.js';
import { eventually } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

/** While a stream elects a leader its publishes find no responder: the same message again, as the SDK does. */
const ELECTION_RETRY = { initialDelayMs: 250, maxDelayMs: 2_000, maxAttempts: 60 } as const;

describe('a 3-node NATS cluster with 3 replicas', () => {
  let cluster: NatsCluster;
  let coordinator: Coordinator;
  let admin: AdminClient;
  let dir: string;
  const killed: string[] = [];
  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    dir = await mkdtemp(join(tmpdir(), 'tributary-cluster-data-'));
    const adminKey = generateSigningKey('admin');
    coordinator = await Coordinator.start({ ...(process.env['TRIBUTARY_TEST_LOG'] ? { logger: createLogger(process.env['TRIBUTARY_TEST_LOG']) } : {}), dataDir: dir, grpcListen: '127.0.0.1:0', nats: cluster.urls, adminKeys: [adminKey.publicKey], streams: { replicas: 3 } });
    admin = new AdminClient({ address: coordinator.address, key: adminKey });
  });
  afterAll(async () => {
    admin?.close();
    await coordinator?.close();
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps every data plane stream on three servers', async () => {
    const nc = await connect({ servers: cluster.urls });
    try {
      const jsm = await nc.jetstreamManager();
      for (const name of [STREAM_UPDATES, STREAM_PAYLOADS, STREAM_METRICS]) {
        const info = await jsm.streams.info(name);
        expect(info.config.num_replicas).toBe(3);
        expect(info.cluster?.replicas).toHaveLength(2);
      }
    } finally {
      await nc.close();
    }
  });

  it('completes a round with every update when the node leading the update stream is killed during it', async () => {
    const base = toyModel();
    await admin.createFederation({ name: 'ha', settings: { rounds: 1, minSites: 3, roundDeadlineSeconds: 300 }, initialModel: encodeSafetensors(base) });
    const keys: Record<string, SigningKey> = {};
    for (const site of ['ha-1', 'ha-2', 'ha-3']) {
      keys[site] = generateSigningKey(site);
      await admin.addSite({ name: site, publicKey: keys[site].publicKey, federations: ['ha'] });
    }
    const run = await admin.startRun('ha');
    const raw = await RawSite.connect(cluster.urls[0] as string, coordinator.publicKey, { servers: cluster.urls });
    try {
      // As the SDK does: the same message ids again while the cluster elects new leaders.
      const send = (site: string) => raw.send({ key: keys[site] as SigningKey, site, federation: 'ha', runId: run.id, round: 1, weights: toyTrain(base, site, 1), retry: ELECTION_RETRY }, 180_000);
      expect(await send('ha-1')).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
      const leader = (await (await raw.nc.jetstreamManager()).streams.info(STREAM_UPDATES)).cluster?.leader as string;
      expect(cluster.names).toContain(leader);
      await cluster.kill(leader);
      killed.push(leader);
      expect(await send('ha-2')).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
      expect(await send('ha-3')).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    } finally {
      await raw.close();
    }
    expect((await admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
    expect((await admin.getRound(run.id, 1)).accepted.map((u) => u.site).sort()).toEqual(['ha-1', 'ha-2', 'ha-3']);
  }, 300_000);

  it('reports JetStream unavailable when a second node is lost, and takes updates again once it comes back', async () => {
    const base = toyModel();
    await admin.createFederation({ name: 'quorum', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 300 }, initialModel: encodeSafetensors(base) });
    const key = generateSigningKey('q-1');
    await admin.addSite({ name: 'q-1', publicKey: key.publicKey, federations: ['quorum'] });
    const run = await admin.startRun('quorum');
    const second = cluster.names.find((n) => !killed.includes(n)) as string;
    await cluster.kill(second);
    // One node of three: no JetStream quorum, the stream cannot even say how it is. The
    // coordinator stays up and keeps retrying.
    const nc = await connect({ servers: cluster.urls });
    try {
      const unavailable = () => nc.jetstreamManager({ timeout: 2_000 }).then((jsm) => jsm.streams.info(STREAM_UPDATES)).then(() => undefined, () => true);
      expect(await eventually(unavailable, 30_000)).toBe(true);
    } finally {
      await nc.close();
    }
    // The coordinator says so, in /healthz (and once in its log), until a node returns.
    const jetstream = () => coordinator.metrics.health()['jetstream'] as { status: string; lastError?: string };
    const lost = await eventually(() => (jetstream().status === 'unavailable' ? jetstream() : undefined), 60_000);
    expect(lost.lastError).toContain('majority');
    await cluster.revive(second);
    await eventually(() => jetstream().status === 'ok' || undefined, 120_000);
    const raw = await RawSite.connect(cluster.urls[0] as string, coordinator.publicKey, { servers: cluster.urls });
    try {
      const verdict = await raw.send({ key, site: 'q-1', federation: 'quorum', runId: run.id, round: 1, weights: toyTrain(base, 'q-1', 1), retry: ELECTION_RETRY }, 180_000);
      expect(verdict).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    } finally {
      await raw.close();
    }
    expect((await admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
  }, 300_000);
});

describe('an SDK site on a 3-node NATS cluster whose update stream leader is killed', () => {
  let cluster: NatsCluster;
  let coordinator: Coordinator;
  let admin: AdminClient;
  let dir: string;
  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    dir = await mkdtemp(join(tmpdir(), 'tributary-cluster-sdk-'));
    const adminKey = generateSigningKey('admin');
    coordinator = await Coordinator.start({ ...(process.env['TRIBUTARY_TEST_LOG'] ? { logger: createLogger(process.env['TRIBUTARY_TEST_LOG']) } : {}), dataDir: dir, grpcListen: '127.0.0.1:0', nats: cluster.urls, adminKeys: [adminKey.publicKey], streams: { replicas: 3 } });
    admin = new AdminClient({ address: coordinator.address, key: adminKey });
  });
  afterAll(async () => {
    admin?.close();
    await coordinator?.close();
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers the update it publishes as the leader dies once, and the round commits', async () => {
    const base = toyModel();
    await admin.createFederation({ name: 'sdkha', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 300 }, initialModel: encodeSafetensors(base) });
    const key = generateSigningKey('sdk-ha');
    await admin.addSite({ name: 'sdk-ha', publicKey: key.publicKey, federations: ['sdkha'] });
    const run = await admin.startRun('sdkha');
    let acceptedAtMs = 0;
    const logger = { debug: () => undefined, warn: () => undefined, info: (_: object, msg?: string) => void (msg === 'update accepted' && (acceptedAtMs = Date.now())) };
    const client = await SiteClient.connect({ coordinator: coordinator.address, nats: cluster.urls, key, logger });
    const nc = await connect({ servers: cluster.urls });
    let killedAtMs = 0;
    try {
      const summary = await client.participate(
        'sdkha',
        async (task) => {
          // The leader of the update stream dies as training ends: the upload meets the election.
          const leader = (await (await nc.jetstreamManager()).streams.info(STREAM_UPDATES)).cluster?.leader as string;
          expect(cluster.names).toContain(leader);
          killedAtMs = Date.now();
          await cluster.kill(leader);
          return { weights: toyTrain(task.model, 'sdk-ha', task.round), numExamples: 10 };
        },
        { maxTasks: 1 },
      );
      expect(summary).toMatchObject({ accepted: 1, refused: 0, failed: 0 });
    } finally {
      await nc.close().catch(() => undefined);
      await client.close();
    }
    console.log(`ingest pause after the update stream leader was killed: ${((acceptedAtMs - killedAtMs) / 1000).toFixed(1)} s from the kill to the accepted update (noisy: shared machine)`);
    expect((await admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
    const round = await admin.getRound(run.id, 1);
    expect(round.state).toBe('ROUND_STATE_COMMITTED');
    expect(round.accepted.map((u) => u.site)).toEqual(['sdk-ha']);
  }, 300_000);
});
