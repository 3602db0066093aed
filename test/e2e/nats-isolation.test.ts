import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccount, createUser, type KeyPair } from '@nats-io/nkeys';
import { SiteClient } from '@tributary/client-sdk';
import { NatsServer } from '@tributary/coordinator';
import {
  RpcClient,
  STREAM_METRICS,
  STREAM_PAYLOADS,
  STREAM_UPDATES,
  decodeSafetensors,
  encodeSafetensors,
  generateSigningKey,
  subjects,
  tensor,
  writeKeyFile,
  type GetNatsCredentialsRequest,
  type NatsCredentials__Output,
  type SigningKey,
  type TensorMap,
} from '@tributary/proto';
import { connect, credsAuthenticator, jwtAuthenticator, type JetStreamManager, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UPDATE_CONSUMER } from '../../coordinator/src/ingest/index.js';
import { envelopeOf, runCli, startCli } from '../helpers/cli.js';
import { SiteConnection } from '../helpers/operator-nats.js';
import { prepareUpload } from '../helpers/raw-site.js';
import { addSite, eventually, startStack, type Stack } from '../helpers/stack.js';
import { referenceFedAvg, toyModel, toyTrain } from '../helpers/training.js';

const STREAMS = [STREAM_UPDATES, STREAM_PAYLOADS, STREAM_METRICS];
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A site's SiteService client and the NATS credentials it was issued for a fresh user nkey, as the SDK asks for them. */
async function issuedCredentials(stack: Stack, key: SigningKey, user: KeyPair = createUser()): Promise<{ user: KeyPair; credentials: NatsCredentials__Output }> {
  const rpc = new RpcClient({ address: stack.coordinator.address, key, service: 'SiteService' });
  try {
    const credentials = await rpc.unary<GetNatsCredentialsRequest, NatsCredentials__Output>('GetNatsCredentials', { userPublicKey: user.getPublicKey() });
    return { user, credentials };
  } finally {
    rpc.close();
  }
}

/** Connects to NATS with the credentials a site was issued, as the SDK does. */
async function connectAsSite(stack: Stack, key: SigningKey): Promise<SiteConnection> {
  const { user, credentials } = await issuedCredentials(stack, key);
  const nc = await connect({ servers: [stack.nats.url], authenticator: jwtAuthenticator(credentials.jwt, user.getSeed()), inboxPrefix: credentials.inboxPrefix });
  return new SiteConnection(nc);
}

/** The coordinator's own NATS user, to look at streams and consumers. */
async function coordinatorConnection(stack: Stack): Promise<NatsConnection> {
  const creds = await readFile(join(stack.natsAuthority ?? '', 'coordinator.creds'));
  return connect({ servers: [stack.nats.url], authenticator: credsAuthenticator(creds) });
}

/** What the code of every error the call failed with, or 'OK'. */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'OK';
  } catch (err) {
    return String((err as { reason?: string; code?: string }).reason ?? (err as { code?: string }).code);
  }
}

describe.skipIf(!NatsServer.available())('sites are silos on the wire: NATS users issued by the coordinator', () => {
  describe('a site of federation B attacks while federation A trains', () => {
    const FED_A = 'fed-a';
    const FED_B = 'fed-b';
    const rounds = 2;
    let stack: Stack;
    let attacker: SiteConnection;
    let coordinator: NatsConnection;
    let jsm: JetStreamManager;
    let run: { id: string };
    let finished: Promise<void>;
    const sent = new Map<number, Array<{ weights: TensorMap; numExamples: number }>>();

    beforeAll(async () => {
      stack = await startStack();
      for (const name of [FED_A, FED_B]) {
        await stack.admin.createFederation({ name, settings: { strategy: 'fedavg', rounds, minSites: 2, roundDeadlineSeconds: 60 }, initialModel: encodeSafetensors(toyModel()) });
      }
      const members = [
        { key: await addSite(stack, 'a-one', [FED_A]), examples: 10 },
        { key: await addSite(stack, 'a-two', [FED_A]), examples: 30 },
      ];
      attacker = await connectAsSite(stack, await addSite(stack, 'b-one', [FED_B]));
      coordinator = await coordinatorConnection(stack);
      jsm = await coordinator.jetstreamManager();
      const clients = await Promise.all(members.map((m) => SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key: m.key })));
      const loops = clients.map((client, i) =>
        client.participate(
          FED_A,
          async (task) => {
            const weights = toyTrain(task.model, client.site, task.round);
            const numExamples = members[i]?.examples ?? 1;
            sent.set(task.round, [...(sent.get(task.round) ?? []), { weights, numExamples }]);
            return { weights, numExamples };
          },
          { maxTasks: rounds },
        ),
      );
      run = await stack.admin.startRun(FED_A);
      finished = (async () => {
        await Promise.all(loops);
        await Promise.all(clients.map((c) => c.close()));
      })();
    });

    afterAll(async () => {
      await attacker?.close();
      await coordinator?.close();
      await stack?.stop();
    });

    it.each(['trib.>', `trib.${FED_A}.>`, '_INBOX.>', '>'])('refuses its subscription to %s', async (subject) => {
      attacker.nc.subscribe(subject);
      await attacker.refused('subscription', subject);
    });

    it.each(STREAMS.flatMap((s) => [`$JS.API.STREAM.MSG.GET.${s}`, `$JS.API.STREAM.INFO.${s}`, `$JS.API.CONSUMER.CREATE.${s}`, `$JS.API.STREAM.PURGE.${s}`, `$JS.API.STREAM.DELETE.${s}`]))(
      'refuses its request to %s',
      async (subject) => {
        const body = bytes(subject.includes('MSG.GET') ? '{"seq":1}' : '{}');
        await expect(attacker.nc.request(subject, body, { timeout: 2000 })).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
      },
    );

    it('refuses its request to delete the coordinator’s durable consumer', async () => {
      await expect(attacker.nc.request(`$JS.API.CONSUMER.DELETE.${STREAM_UPDATES}.${UPDATE_CONSUMER}`, bytes('{}'), { timeout: 2000 })).rejects.toMatchObject({
        code: 'PERMISSIONS_VIOLATION',
      });
    });

    it.each([
      ['another site’s update manifest', subjects.update(FED_A, 'run', 1, 'a-one')],
      ['another site’s payload chunk', subjects.sitePayload(FED_A, 'a-one', 'ab'.repeat(16))],
      ['another site’s metric batch', subjects.metrics(FED_A, 'run', 'a-one')],
    ])('refuses its publish on %s', async (_what, subject) => {
      await expect(attacker.nc.jetstream().publish(subject, bytes('forged'), { timeout: 2000 })).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
    });

    it('refuses its publish on another site’s verdict subject', async () => {
      const subject = subjects.verdict(FED_A, 'a-one');
      attacker.nc.publish(subject, bytes('forged'));
      await attacker.refused('publish', subject);
    });

    it('leaves the streams and the coordinator’s durable consumer in place', async () => {
      await attacker.nc.flush();
      expect((await jsm.streams.list().next()).map((s) => s.config.name).sort()).toEqual([...STREAMS].sort());
      expect((await jsm.consumers.info(STREAM_UPDATES, UPDATE_CONSUMER)).name).toBe(UPDATE_CONSUMER);
      expect(attacker.nc.isClosed()).toBe(false);
    });

    it('has the run in federation A commit, every round, the FedAvg of what its sites sent', async () => {
      const ended = await stack.admin.waitForRun(run.id);
      await finished;
      expect(ended.status).toBe('RUN_STATUS_FINISHED');
      for (let round = 1; round <= rounds; round++) {
        const expected = referenceFedAvg(sent.get(round) ?? []);
        const committed = decodeSafetensors((await stack.admin.downloadModel(FED_A, round + 1)).bytes).tensors;
        for (const [name, values] of Object.entries(expected)) {
          const got = committed[name]?.data as Float32Array;
          expect(got.length).toBe(values.length);
          for (let i = 0; i < values.length; i++) expect(Math.abs((got[i] ?? NaN) - (values[i] ?? 0))).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(values[i] ?? 0)));
        }
      }
    });
  });

  describe('revoking a site while its update is in flight', () => {
    const FED = 'fed-revoke';
    let stack: Stack;

    beforeAll(async () => {
      stack = await startStack();
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('drops its NATS connection, refuses its update KEY_REVOKED and commits the round with the others', async () => {
      await stack.admin.createFederation({ name: FED, settings: { strategy: 'fedavg', rounds: 2, minSites: 2, roundDeadlineSeconds: 10 }, initialModel: encodeSafetensors(toyModel()) });
      const honest = [await addSite(stack, 'r-one', [FED]), await addSite(stack, 'r-two', [FED])];
      const revokedKey = await addSite(stack, 'r-three', [FED]);
      const revoked = await connectAsSite(stack, revokedKey);
      const clients = await Promise.all(honest.map((key) => SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key })));
      const loops = clients.map((client) => client.participate(FED, async (task) => ({ weights: toyTrain(task.model, client.site, task.round), numExamples: 10 }), { maxTasks: 2 }));
      const run = await stack.admin.startRun(FED);

      // Everything but the last payload chunk goes out over the site's own connection.
      const upload = prepareUpload({ key: revokedKey, site: 'r-three', federation: FED, runId: run.id, round: 1, weights: toyTrain(toyModel(), 'r-three', 1), chunkSize: 16 });
      const js = revoked.nc.jetstream();
      for (const chunk of upload.chunks.slice(0, -1)) await js.publish(chunk.subject, chunk.data, { msgID: chunk.msgID, headers: chunk.headers });
      await js.publish(upload.manifest.subject, upload.manifest.bytes, { msgID: upload.updateId });
      const observer = await stack.rawSite();
      const verdict = observer.verdict(FED, 'r-three', upload.updateId);
      // The coordinator has authenticated and admitted the manifest once it reads the payload.
      const coordinator = await coordinatorConnection(stack);
      const jsm = await coordinator.jetstreamManager();
      const chunkSubject = upload.chunks[0]?.subject;
      await eventually(async () => (await jsm.consumers.list(STREAM_PAYLOADS).next()).some((c) => c.config.filter_subject === chunkSubject));
      await coordinator.close();

      await stack.admin.revokeSite('r-three');
      await revoked.dropped(5000);
      // The last chunk was already in the stream when the key was revoked.
      const last = upload.chunks[upload.chunks.length - 1];
      if (last === undefined) throw new Error('no chunks');
      await observer.nc.jetstream().publish(last.subject, last.data, { msgID: last.msgID, headers: last.headers });

      expect(await verdict).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason: 'KEY_REVOKED' });
      const ended = await stack.admin.waitForRun(run.id);
      await Promise.all(loops);
      await Promise.all(clients.map((c) => c.close()));
      await observer.close();
      expect(ended.status).toBe('RUN_STATUS_FINISHED');
      const versions = await stack.admin.listModelVersions(FED);
      expect(versions.slice(1).map((v) => v.contributions.map((c) => c.site).sort())).toEqual([
        ['r-one', 'r-two'],
        ['r-one', 'r-two'],
      ]);
    });

    it('refuses the revoked site new NATS credentials', async () => {
      const key = await addSite(stack, 'r-four', [FED]);
      await stack.admin.revokeSite('r-four');
      expect(await outcome(issuedCredentials(stack, key))).toBe('KEY_REVOKED');
    });
  });

  describe('credentials that expire mid-run', () => {
    const FED = 'fed-expiry';
    let stack: Stack;

    beforeAll(async () => {
      stack = await startStack({ siteCredentialTtl: '2s' });
    });
    afterAll(async () => {
      await stack?.stop();
    });

    /** Site credentials the coordinator issued so far. */
    const issued = async (): Promise<number> => (await stack.coordinator.metrics.siteCredentials.get()).values.find((v) => v.labels['outcome'] === 'ISSUED')?.value ?? 0;

    it('renews them, so every round commits with every site', async () => {
      const rounds = 3;
      await stack.admin.createFederation({ name: FED, settings: { strategy: 'fedavg', rounds, minSites: 2, roundDeadlineSeconds: 60 }, initialModel: encodeSafetensors(toyModel()) });
      const keys = [await addSite(stack, 'e-one', [FED]), await addSite(stack, 'e-two', [FED])];
      const logged: string[] = [];
      const logger = { info: (_o: object, msg?: string) => logged.push(msg ?? ''), warn: (_o: object, msg?: string) => logged.push(msg ?? ''), debug: (_o: object, msg?: string) => logged.push(msg ?? '') };
      const clients = await Promise.all(keys.map((key) => SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key, logger })));
      const atStart = await issued();
      const loops = clients.map((client) =>
        client.participate(
          FED,
          async (task) => {
            // Training outlasts the first credentials: each site renews at least twice, so the
            // server drops the connection on the first JWT's expiry and it reconnects with a fresh one.
            if (task.round === 1) await eventually(async () => (await issued()) >= atStart + 2 * clients.length, 30_000);
            return { weights: toyTrain(task.model, client.site, task.round), numExamples: 10 };
          },
          { maxTasks: rounds },
        ),
      );
      const run = await stack.admin.startRun(FED);
      const ended = await stack.admin.waitForRun(run.id);
      const summaries = await Promise.all(loops);
      // Under load the first JWT may expire after the last publish: the reconnect then follows the run.
      await eventually(async () => logged.includes('NATS reconnected') || undefined, 30_000).catch(() => undefined);
      await Promise.all(clients.map((c) => c.close()));
      expect(ended.status).toBe('RUN_STATUS_FINISHED');
      expect((await stack.admin.listRounds(run.id)).map((r) => r.state)).toEqual(Array(rounds).fill('ROUND_STATE_COMMITTED'));
      const versions = await stack.admin.listModelVersions(FED);
      expect(versions.slice(1).map((v) => v.contributions.length)).toEqual(Array(rounds).fill(2));
      expect(summaries.map((s) => s.accepted)).toEqual([rounds, rounds]);
      // The server dropped connections whose JWT expired; they came back with renewed ones.
      expect(logged.filter((m) => m === 'NATS credentials renewed').length).toBeGreaterThanOrEqual(2 * clients.length);
      expect(logged).toContain('NATS reconnected');
    });
  });

  describe('a site that joins a federation after it connected', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack();
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('renews its credentials for the new federation and has its updates accepted there', async () => {
      for (const name of ['fed-first', 'fed-later']) {
        await stack.admin.createFederation({ name, settings: { strategy: 'fedavg', rounds: 1, minSites: 1, roundDeadlineSeconds: 60 }, initialModel: encodeSafetensors(toyModel()) });
      }
      const key = await addSite(stack, 'joiner', ['fed-first']);
      const client = await SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key });
      try {
        await stack.admin.addSite({ name: 'joiner', publicKey: key.publicKey, federations: ['fed-later'] });
        const loop = client.participate('fed-later', async (task) => ({ weights: toyTrain(task.model, client.site, task.round), numExamples: 10 }), { maxTasks: 1 });
        const run = await stack.admin.startRun('fed-later');
        expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
        expect(await loop).toMatchObject({ accepted: 1 });
      } finally {
        await client.close();
      }
    });
  });

  describe('tributary dev', () => {
    /** Whether a client without credentials may connect to the dev NATS server. */
    const anonymousConnect = async (url: string): Promise<string> => outcome(connect({ servers: [url], maxReconnectAttempts: 0 }).then((nc) => nc.close()));

    it('runs NATS in operator mode, with sites getting their credentials from the coordinator', async () => {
      const dev = await startCli(['dev', '--grpc-listen', '127.0.0.1:0', '--json']);
      try {
        const started = JSON.parse(dev.firstLine) as { result: { nats: string; natsAuthority?: string } };
        expect(started.result.natsAuthority).toEqual(expect.any(String));
        expect(await anonymousConnect(started.result.nats)).toBe('AUTHORIZATION_VIOLATION');
      } finally {
        await dev.stop();
      }
    });

    it('runs NATS without authentication with --no-nats-auth', async () => {
      const dev = await startCli(['dev', '--no-nats-auth', '--grpc-listen', '127.0.0.1:0', '--json']);
      try {
        const started = JSON.parse(dev.firstLine) as { result: { nats: string; natsAuthority?: string } };
        expect(started.result.natsAuthority).toBeUndefined();
        expect(await anonymousConnect(started.result.nats)).toBe('OK');
      } finally {
        await dev.stop();
      }
    });
  });

  describe('tributary site credentials, for a site without the SDK', () => {
    const FED = 'fed-creds';
    let stack: Stack;
    let dir: string;
    let credsFile: string;
    let result: { site: string; inboxPrefix: string; federations: string[] };

    beforeAll(async () => {
      stack = await startStack();
      dir = await mkdtemp(join(tmpdir(), 'tributary-site-creds-'));
      await writeKeyFile(join(dir, 'admin.key'), stack.adminKey);
      await stack.admin.createFederation({ name: FED, settings: { rounds: 1, minSites: 1 }, initialModel: encodeSafetensors(toyModel()) });
      await addSite(stack, 'plain', [FED]);
      credsFile = join(dir, 'plain.creds');
      const cli = await runCli(['site', 'credentials', 'plain', '--out', credsFile, '--ttl', '10m', '--json', '--coordinator', stack.coordinator.address, '--key', join(dir, 'admin.key')]);
      expect(cli.code, cli.stderr).toBe(0);
      result = envelopeOf<typeof result>(cli).result as typeof result;
    });
    afterAll(async () => {
      await stack?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it('writes a creds file only its owner may read', async () => {
      expect((await stat(credsFile)).mode & 0o777).toBe(0o600);
      expect(result).toMatchObject({ site: 'plain', inboxPrefix: subjects.inboxPrefix('plain'), federations: [FED] });
    });

    it('connects and publishes on the site’s own subjects', async () => {
      const nc = await connect({ servers: [stack.nats.url], authenticator: credsAuthenticator(await readFile(credsFile)), inboxPrefix: result.inboxPrefix });
      try {
        const ack = await nc.jetstream().publish(subjects.sitePayload(FED, 'plain', 'cd'.repeat(16)), bytes('chunk'), { timeout: 5000 });
        expect(ack.stream).toBe(STREAM_PAYLOADS);
      } finally {
        await nc.close();
      }
    });

    it('may not publish on another site’s subjects', async () => {
      const nc = await connect({ servers: [stack.nats.url], authenticator: credsAuthenticator(await readFile(credsFile)), inboxPrefix: result.inboxPrefix });
      try {
        await expect(nc.jetstream().publish(subjects.sitePayload(FED, 'other', 'cd'.repeat(16)), bytes('chunk'), { timeout: 2000 })).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
      } finally {
        await nc.close();
      }
    });
  });

  describe('GetNatsCredentials refusals', () => {
    let stack: Stack;
    let key: SigningKey;

    beforeAll(async () => {
      stack = await startStack();
      await stack.admin.createFederation({ name: 'fed-refusals', settings: { rounds: 1, minSites: 1 }, initialModel: encodeSafetensors({ w: tensor('F32', [1], new Float32Array([0])) }) });
      key = await addSite(stack, 'asker', ['fed-refusals']);
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('issues a JWT covering the site’s federations and naming its inbox prefix', async () => {
      const { credentials } = await issuedCredentials(stack, key);
      expect(credentials).toMatchObject({ inboxPrefix: subjects.inboxPrefix('asker'), federations: ['fed-refusals'] });
      expect(credentials.expiresAtMs).toBeGreaterThan(Date.now());
    });

    it('refuses an unknown key UNAUTHENTICATED', async () => {
      const stranger = generateSigningKey('stranger');
      const rpc = new RpcClient({ address: stack.coordinator.address, key: stranger, service: 'SiteService' });
      try {
        await expect(rpc.unary('GetNatsCredentials', { userPublicKey: createUser().getPublicKey() })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
      } finally {
        rpc.close();
      }
    });

    it.each([
      ['not an nkey', 'not-a-key'],
      ['an account key', createAccount().getPublicKey()],
      ['a user seed', new TextDecoder().decode(createUser().getSeed())],
    ])('refuses %s as the user key INVALID_ARGUMENT', async (_what, userPublicKey) => {
      const rpc = new RpcClient({ address: stack.coordinator.address, key, service: 'SiteService' });
      try {
        await expect(rpc.unary('GetNatsCredentials', { userPublicKey })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      } finally {
        rpc.close();
      }
    });

    it('refuses with FAILED_PRECONDITION when the coordinator has no NATS authority', async () => {
      const open = await startStack({}, { natsAuth: false });
      try {
        const siteKey = await addSite(open, 'asker', []);
        expect(await outcome(issuedCredentials(open, siteKey))).toBe('FAILED_PRECONDITION');
      } finally {
        await open.stop();
      }
    });
  });
});
