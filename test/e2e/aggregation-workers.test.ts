import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { AdminClient, NatsServer } from '@tributary/coordinator';
import {
  AGGREGATOR_GROUP,
  AGGREGATOR_QUEUE,
  CHUNK_INDEX_HEADER,
  STREAM_PARTIALS,
  STREAM_PAYLOADS,
  STREAM_UPDATES,
  aggregationSubjects,
  decodeSafetensors,
  encodeSafetensors,
  generateSigningKey,
  openFoldJob,
  openPartialRequest,
  sha256Hex,
  signFoldVerdict,
  signPartialManifest,
  subjects,
  tensor,
  writeKeyFile,
  type AggregationCredentials__Output,
  type FederationSettings,
  type PartialManifest,
  type SigningKey,
  type TensorMap,
} from '@tributary/proto';
import { connect, headers, jwtAuthenticator } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, type CliProcess } from '../helpers/cli.js';
import { SiteConnection } from '../helpers/operator-nats.js';
import type { RawSite } from '../helpers/raw-site.js';
import { addSite, eventually, refusalsCounted, startStack, type Stack } from '../helpers/stack.js';
import { referenceFedAvg } from '../helpers/training.js';
import { clipUpdateToNorm } from '../../coordinator/src/strategies/index.js';

/** 300 x 1000 float32 and a bias: 1.2 MB, so each payload travels in two chunks and is staged in a file. */
const ROWS = 300;
const COLS = 1000;

function model(seed: number): TensorMap {
  // Values in [0.5, 1.5]: no cancellation, so a relative comparison is meaningful everywhere.
  let x = seed * 7919 + 1;
  const next = (): number => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return 0.5 + x / 2147483648;
  };
  return {
    w: tensor('F32', [ROWS, COLS], Float32Array.from({ length: ROWS * COLS }, next)),
    b: tensor('F32', [COLS], Float32Array.from({ length: COLS }, next)),
  };
}

/** Largest |got - want| / |want| over every value. */
function maxRelativeError(got: TensorMap, want: Record<string, Float64Array>): number {
  let worst = 0;
  for (const [name, expected] of Object.entries(want)) {
    const values = got[name]?.data as Float32Array;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs((values[i] ?? NaN) - (expected[i] ?? 0)) / Math.abs(expected[i] ?? 1));
  }
  return worst;
}

/** A principal in the group "aggregators" with read on every federation, and its key file. */
async function addWorker(stack: Stack, dir: string, name: string): Promise<{ key: SigningKey; keyFile: string }> {
  const key = generateSigningKey(name);
  await stack.admin.addPrincipal({ name, publicKey: key.publicKey, groups: [AGGREGATOR_GROUP] });
  await stack.admin.grant({ privilege: 'read', resource: 'federation:*', grantee: `principal:${name}` });
  const keyFile = join(dir, `${name}.key`);
  await writeKeyFile(keyFile, key);
  return { key, keyFile };
}

/** Jobs a worker's progress lines say it folded (0 before the first). */
function foldedBy(worker: CliProcess): number {
  const all = [...worker.output().matchAll(/folded (\d+) update/g)];
  return Number(all.at(-1)?.[1] ?? 0);
}

async function metric(stack: Stack, name: string, label: string): Promise<number> {
  const text = await stack.coordinator.metrics.registry.getSingleMetricAsString(name);
  return Number(new RegExp(`${label}} (\\d+)`).exec(text)?.[1] ?? 0);
}

interface Round {
  runId: string;
  sites: string[];
  keys: Record<string, SigningKey>;
}

/** A federation of `count` sites, all selected, and its run started. */
async function openRound(stack: Stack, federation: string, count: number, settings: Partial<FederationSettings> = {}): Promise<Round> {
  await stack.admin.createFederation({ name: federation, settings: { rounds: 1, minSites: count, roundDeadlineSeconds: 300, ...settings }, initialModel: encodeSafetensors(model(0)) });
  const keys: Record<string, SigningKey> = {};
  const sites = Array.from({ length: count }, (_, i) => `${federation}-s${i}`);
  for (const site of sites) keys[site] = await addSite(stack, site, [federation]);
  const runId = (await stack.admin.startRun(federation)).id;
  return { runId, sites, keys };
}

/** Each site's update: its own weights and number of examples. */
function updateOf(round: Round, site: string): { weights: TensorMap; numExamples: number } {
  const i = round.sites.indexOf(site);
  return { weights: model(i + 1), numExamples: 10 + 7 * i };
}

async function send(raw: RawSite, federation: string, round: Round, site: string, opts: { chunkSize?: number } = {}) {
  const { weights, numExamples } = updateOf(round, site);
  return raw.send({ key: round.keys[site] as SigningKey, site, federation, runId: round.runId, round: 1, weights, numExamples, ...opts });
}

/** The committed model against FedAvg of the given sites' updates, computed independently. */
async function modelError(stack: Stack, federation: string, round: Round, sites: readonly string[]): Promise<number> {
  const { bytes } = await stack.admin.downloadModel(federation);
  return maxRelativeError(decodeSafetensors(bytes).tensors, referenceFedAvg(sites.map((s) => updateOf(round, s))));
}

describe.skipIf(!NatsServer.available())('aggregation workers (`tributary aggregator`) on NATS', () => {
  let stack: Stack;
  let dir: string;
  let raw: RawSite;
  const workers: CliProcess[] = [];

  const startWorker = async (keyFile: string): Promise<CliProcess> => {
    const worker = await startCli(['aggregator', '--coordinator', stack.coordinator.address, '--key', keyFile]);
    workers.push(worker);
    return worker;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-aggworkers-'));
    stack = await startStack({ aggregation: { enabled: true, jobTimeout: '5s', collectTimeout: '5s' }, ingest: { minUploadTime: '10s' } });
    raw = await stack.rawSite();
  });

  afterAll(async () => {
    for (const w of workers) await w.stop().catch(() => undefined);
    await raw?.close();
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  describe('two workers', () => {
    let one: CliProcess;
    let two: CliProcess;
    beforeAll(async () => {
      one = await startWorker((await addWorker(stack, dir, 'agg-one')).keyFile);
      two = await startWorker((await addWorker(stack, dir, 'agg-two')).keyFile);
    });

    it('commit the model a single coordinator would, within 1e-6 relative, each folding some of the updates', async () => {
      const federation = 'two-workers';
      const round = await openRound(stack, federation, 12);
      const folded = await metric(stack, 'tributary_fold_jobs_total', 'outcome="folded"');
      const verdicts = await Promise.all(round.sites.map((site) => send(raw, federation, round, site)));
      expect(verdicts.map((v) => v.state)).toEqual(round.sites.map(() => 'UPDATE_STATE_ACCEPTED'));
      expect((await stack.admin.waitForRun(round.runId)).status).toBe('RUN_STATUS_FINISHED');
      expect(await modelError(stack, federation, round, round.sites)).toBeLessThan(1e-6);
      expect((await metric(stack, 'tributary_fold_jobs_total', 'outcome="folded"')) - folded).toBe(12);
      await eventually(() => (foldedBy(one) + foldedBy(two) >= 12 ? true : undefined));
      expect(foldedBy(one)).toBeGreaterThan(0);
      expect(foldedBy(two)).toBeGreaterThan(0);
    }, 120_000);

    it('read a payload of more than two chunks through a consumer filtered to its subject, and fold it', async () => {
      const federation = 'many-chunks';
      const round = await openRound(stack, federation, 3);
      const folded = await metric(stack, 'tributary_fold_jobs_total', 'outcome="folded"');
      // 256 KiB chunks: five an update, more than a worker reads with direct gets.
      const verdicts = await Promise.all(round.sites.map((site) => send(raw, federation, round, site, { chunkSize: 256 * 1024 })));
      expect(verdicts.map((v) => v.state)).toEqual(round.sites.map(() => 'UPDATE_STATE_ACCEPTED'));
      expect((await stack.admin.waitForRun(round.runId)).status).toBe('RUN_STATUS_FINISHED');
      expect((await metric(stack, 'tributary_fold_jobs_total', 'outcome="folded"')) - folded).toBe(3);
      expect(await modelError(stack, federation, round, round.sites)).toBeLessThan(1e-6);
    }, 120_000);

    it('refuse a bad update with the reason the coordinator gives without workers', async () => {
      const federation = 'bad-update';
      const round = await openRound(stack, federation, 2);
      const [site] = round.sites as [string];
      const before = await refusalsCounted(stack.coordinator.metrics, 'NON_FINITE');
      const refusedByWorkers = await metric(stack, 'tributary_fold_jobs_total', 'outcome="refused"');
      const weights = model(99);
      (weights['w']?.data as Float32Array)[12345] = NaN;
      const verdict = await raw.send({ key: round.keys[site] as SigningKey, site, federation, runId: round.runId, round: 1, weights, numExamples: 10 });
      expect(verdict).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason: 'NON_FINITE' });
      expect(await refusalsCounted(stack.coordinator.metrics, 'NON_FINITE')).toBe(before + 1);
      expect(await metric(stack, 'tributary_fold_jobs_total', 'outcome="refused"')).toBe(refusedByWorkers + 1);
      await stack.admin.stopRun(round.runId, 'test done');
    }, 60_000);

    it('clip updates to the norm bound as the coordinator would, measured from the model the round hands out', async () => {
      const federation = 'norm-clip';
      const bound = 150;
      const round = await openRound(stack, federation, 4, { normBound: bound, normBoundMode: 'clip' });
      const folded = await metric(stack, 'tributary_fold_jobs_total', 'outcome="folded"');
      const verdicts = await Promise.all(round.sites.map((site) => send(raw, federation, round, site)));
      expect(verdicts.map((v) => v.state)).toEqual(round.sites.map(() => 'UPDATE_STATE_ACCEPTED'));
      expect((await stack.admin.waitForRun(round.runId)).status).toBe('RUN_STATUS_FINISHED');
      expect((await metric(stack, 'tributary_fold_jobs_total', 'outcome="folded"')) - folded).toBe(4);
      expect((await stack.admin.getRound(round.runId, 1)).metrics['clipped_updates']).toBe(4);
      const clipped = round.sites.map((site) => {
        const { weights, numExamples } = updateOf(round, site);
        return { weights: clipUpdateToNorm(weights, model(0), bound).tensors, numExamples };
      });
      const { bytes } = await stack.admin.downloadModel(federation);
      expect(maxRelativeError(decodeSafetensors(bytes).tensors, referenceFedAvg(clipped))).toBeLessThan(1e-6);
    }, 120_000);

    it('refuse an update beyond a refusing norm bound with NORM_EXCEEDED, as the coordinator would', async () => {
      const federation = 'norm-refuse';
      const round = await openRound(stack, federation, 2, { normBound: 150 });
      const [site] = round.sites as [string];
      const refusedByWorkers = await metric(stack, 'tributary_fold_jobs_total', 'outcome="refused"');
      const verdict = await send(raw, federation, round, site);
      expect(verdict).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason: 'NORM_EXCEEDED' });
      expect(await metric(stack, 'tributary_fold_jobs_total', 'outcome="refused"')).toBe(refusedByWorkers + 1);
      await stack.admin.stopRun(round.runId, 'test done');
    }, 60_000);

    it('lose nothing when one is killed with SIGKILL mid-round: the round commits every accepted update and the same model', async () => {
      const federation = 'killed-worker';
      const round = await openRound(stack, federation, 10);
      const first = round.sites.slice(0, 5);
      const before = foldedBy(two);
      const verdicts = [];
      for (const site of first) verdicts.push(await send(raw, federation, round, site));
      // Both workers hold part of the round when one dies (jobs go to either; send more until the doomed one has some).
      const doomedFolded = (): Promise<boolean> => eventually(() => (foldedBy(two) > before ? true : undefined), 1_000).catch(() => false);
      for (let extra = 5; !(await doomedFolded()) && extra < round.sites.length - 1; extra++) verdicts.push(await send(raw, federation, round, round.sites[extra] as string));
      expect(foldedBy(two)).toBeGreaterThan(before);
      two.child.kill('SIGKILL');
      await new Promise((resolve) => (two.child.exitCode !== null || two.child.signalCode !== null ? resolve(undefined) : two.child.once('exit', resolve)));
      const rest = round.sites.slice(verdicts.length);
      for (const site of rest) verdicts.push(await send(raw, federation, round, site));
      expect(verdicts.map((v) => v.state)).toEqual(round.sites.map(() => 'UPDATE_STATE_ACCEPTED'));
      expect((await stack.admin.waitForRun(round.runId)).status).toBe('RUN_STATUS_FINISHED');
      const committed = await stack.admin.getRound(round.runId, 1);
      expect(committed.accepted.map((u) => u.site).sort()).toEqual([...round.sites].sort());
      expect(await modelError(stack, federation, round, round.sites)).toBeLessThan(1e-6);
    }, 120_000);

    it('lose nothing when the coordinator restarts mid-round: it re-folds what workers folded from the payload stream', async () => {
      const federation = 'coordinator-restart';
      const round = await openRound(stack, federation, 6);
      const verdicts = [];
      for (const site of round.sites.slice(0, 3)) verdicts.push(await send(raw, federation, round, site));
      await stack.stopCoordinator();
      await stack.restartCoordinator();
      for (const site of round.sites.slice(3)) verdicts.push(await send(raw, federation, round, site));
      expect(verdicts.map((v) => v.state)).toEqual(round.sites.map(() => 'UPDATE_STATE_ACCEPTED'));
      expect((await stack.admin.waitForRun(round.runId)).status).toBe('RUN_STATUS_FINISHED');
      expect(await modelError(stack, federation, round, round.sites)).toBeLessThan(1e-6);
      // The three sent after the restart were folded by the surviving worker.
      expect(await metric(stack, 'tributary_fold_jobs_total', 'outcome="folded"')).toBe(3);
    }, 120_000);

    it('are no longer taken at their word once their principal is disabled: the coordinator re-folds what one held', async () => {
      const federation = 'disabled-worker';
      const round = await openRound(stack, federation, 3);
      const refused = await metric(stack, 'tributary_partials_total', 'outcome="PARTIAL_REFUSED"');
      const verdicts = [await send(raw, federation, round, round.sites[0] as string), await send(raw, federation, round, round.sites[1] as string)];
      const oneExited = new Promise<number | null>((resolve) => one.child.once('exit', (code) => resolve(code)));
      await stack.admin.disablePrincipal('agg-one');
      verdicts.push(await send(raw, federation, round, round.sites[2] as string));
      expect(verdicts.map((v) => v.state)).toEqual(round.sites.map(() => 'UPDATE_STATE_ACCEPTED'));
      expect((await stack.admin.waitForRun(round.runId)).status).toBe('RUN_STATUS_FINISHED');
      expect(await metric(stack, 'tributary_partials_total', 'outcome="PARTIAL_REFUSED"')).toBe(refused + 1);
      expect(await modelError(stack, federation, round, round.sites)).toBeLessThan(1e-6);
      // Its NATS user is revoked with the principal: the worker stops, saying why.
      expect(await oneExited).not.toBe(0);
      expect(one.output()).toContain('Error (KEY_REVOKED)');
    }, 120_000);

    it('exits 0 on SIGTERM, leaving its partials to the coordinator', async () => {
      // One killed, one disabled: a third, healthy one.
      const three = await startWorker((await addWorker(stack, dir, 'agg-three')).keyFile);
      const exited = new Promise<number | null>((resolve) => three.child.once('exit', (code) => resolve(code)));
      three.child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }, 30_000);
  });

  describe('a worker that lies about its partial', () => {
    type Lie = 'wrong key' | 'ids not assigned to it' | 'digest mismatch';
    let liar: { key: SigningKey; credentials: AggregationCredentials__Output; nc: Awaited<ReturnType<typeof connect>> };
    let lie: Lie = 'wrong key';
    let quiet: CliProcess[];

    beforeAll(async () => {
      // Only the liar takes jobs from here on.
      quiet = workers.splice(0);
      for (const w of quiet) await w.stop();
      const key = (await addWorker(stack, dir, 'agg-liar')).key;
      const client = new AdminClient({ address: stack.coordinator.address, key });
      const user = createUser();
      const credentials = await client.joinAggregation({ userPublicKey: user.getPublicKey() }).finally(() => client.close());
      const nc = await connect({ servers: [stack.nats.url], authenticator: jwtAuthenticator(credentials.jwt, user.getSeed()), inboxPrefix: credentials.inboxPrefix });
      liar = { key, credentials, nc };
      // Accepts every job without folding anything, then hands back a forged partial.
      const assigned: string[] = [];
      let weight = 0;
      void (async () => {
        for await (const m of nc.subscribe(aggregationSubjects.job, { queue: AGGREGATOR_QUEUE })) {
          const job = openFoldJob(m.data, credentials.coordinatorPublicKey).body;
          assigned.push(job.updateId);
          weight += Number(job.numExamples);
          m.respond(signFoldVerdict({ epoch: job.epoch, runId: job.runId, round: job.round, updateId: job.updateId, manifestSha256: job.manifestSha256, accepted: true, worker: 'agg-liar' }, key));
        }
      })();
      void (async () => {
        for await (const m of nc.subscribe(credentials.collectSubject)) {
          const request = openPartialRequest(m.data, credentials.coordinatorPublicKey).body;
          if (request.abandon) continue;
          const sums = encodeSafetensors({ w: tensor('F64', [ROWS, COLS], new Float64Array(ROWS * COLS)), b: tensor('F64', [COLS], new Float64Array(COLS)) });
          const subject = aggregationSubjects.partial('agg-liar', request.runId, request.round);
          const js = nc.jetstream();
          const chunkSize = 960 * 1024;
          const chunkCount = Math.ceil(sums.byteLength / chunkSize);
          for (let i = 0; i < chunkCount; i++) {
            const h = headers();
            h.set(CHUNK_INDEX_HEADER, String(i));
            await js.publish(subject, sums.subarray(i * chunkSize, (i + 1) * chunkSize), { headers: h });
          }
          const manifest: PartialManifest = {
            worker: 'agg-liar',
            epoch: request.epoch,
            runId: request.runId,
            round: request.round,
            updateIds: lie === 'ids not assigned to it' ? [...assigned.slice(1), 'f'.repeat(32)] : assigned,
            totalWeight: weight,
            payloadSubject: subject,
            chunkCount,
            chunkSize,
            payloadSize: sums.byteLength,
            payloadSha256: lie === 'digest mismatch' ? sha256Hex(new Uint8Array([1])) : sha256Hex(sums),
            tensors: [
              { name: 'w', dtype: 'F64', shape: [ROWS, COLS] },
              { name: 'b', dtype: 'F64', shape: [COLS] },
            ],
          };
          m.respond(signPartialManifest(manifest, lie === 'wrong key' ? generateSigningKey('stranger') : key));
          assigned.length = 0;
          weight = 0;
        }
      })();
      await nc.flush();
    });

    afterAll(async () => {
      await liar?.nc.close();
    });

    it.each<Lie>(['wrong key', 'ids not assigned to it', 'digest mismatch'])('is refused (%s), logged and counted, and its updates are re-folded into the right model', async (which) => {
      lie = which;
      const federation = `liar-${which.replaceAll(' ', '-')}`;
      const round = await openRound(stack, federation, 3);
      const refused = await metric(stack, 'tributary_partials_total', 'outcome="PARTIAL_REFUSED"');
      const verdicts = await Promise.all(round.sites.map((site) => send(raw, federation, round, site)));
      expect(verdicts.map((v) => v.state)).toEqual(round.sites.map(() => 'UPDATE_STATE_ACCEPTED'));
      expect((await stack.admin.waitForRun(round.runId)).status).toBe('RUN_STATUS_FINISHED');
      expect(await metric(stack, 'tributary_partials_total', 'outcome="PARTIAL_REFUSED"')).toBe(refused + 1);
      expect(await modelError(stack, federation, round, round.sites)).toBeLessThan(1e-6);
    }, 60_000);

    describe("the worker's NATS user", () => {
      let conn: SiteConnection;
      beforeAll(() => {
        conn = new SiteConnection(liar.nc);
      });

      it.each(['trib.>', `trib.two-workers.verdict.two-workers-s0`, aggregationSubjects.collect('agg-one'), '_INBOX.>', '>'])('may not subscribe to %s', async (subject) => {
        liar.nc.subscribe(subject);
        await conn.refused('subscription', subject);
      });

      it.each([`$JS.API.STREAM.INFO.${STREAM_UPDATES}`, `$JS.API.DIRECT.GET.${STREAM_UPDATES}`, `$JS.API.STREAM.PURGE.${STREAM_PAYLOADS}`, `$JS.API.STREAM.DELETE.${STREAM_PAYLOADS}`])('may not call %s', async (subject) => {
        await expect(liar.nc.request(subject, new TextEncoder().encode('{"seq":1}'), { timeout: 2000 })).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
      });

      it('may read one update’s payload through a consumer filtered to its subject', async () => {
        const refusals = conn.refusals.length;
        const consumer = await liar.nc.jetstream().consumers.get(STREAM_PAYLOADS, { filterSubjects: subjects.sitePayload('two-workers', 'two-workers-s0', 'cd'.repeat(16)) });
        expect(await consumer.next({ expires: 1000 })).toBeNull();
        await consumer.delete();
        expect(conn.refusals.slice(refusals)).toEqual([]);
      });

      it.each([
        ['a consumer over the whole payload stream', `$JS.API.CONSUMER.CREATE.${STREAM_PAYLOADS}`],
        ['a named consumer over the whole payload stream', `$JS.API.CONSUMER.CREATE.${STREAM_PAYLOADS}.wide`],
        ['a durable consumer', `$JS.API.CONSUMER.DURABLE.CREATE.${STREAM_PAYLOADS}.kept`],
        ['a consumer of metric batches', `$JS.API.CONSUMER.CREATE.${STREAM_PAYLOADS}.peek.${subjects.metrics('two-workers', 'run', 'two-workers-s0')}`],
        ['a consumer on the manifests stream', `$JS.API.CONSUMER.CREATE.${STREAM_UPDATES}.peek.${subjects.update('two-workers', 'run', 1, 'two-workers-s0')}`],
        ['a consumer on the partials stream', `$JS.API.CONSUMER.CREATE.${STREAM_PARTIALS}.peek.${aggregationSubjects.partial('agg-one', 'run', 1)}`],
      ])('may not create %s', async (_what, subject) => {
        await expect(liar.nc.request(subject, new TextEncoder().encode('{}'), { timeout: 2000 })).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
      });

      it.each([
        ['a site’s update manifest', subjects.update('two-workers', 'run', 1, 'two-workers-s0')],
        ['a site’s payload chunk', subjects.sitePayload('two-workers', 'two-workers-s0', 'ab'.repeat(16))],
        ['another worker’s partial', aggregationSubjects.partial('agg-one', 'run', 1)],
      ])('may not publish %s', async (_what, subject) => {
        await expect(liar.nc.jetstream().publish(subject, new TextEncoder().encode('forged'), { timeout: 2000 })).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
      });
    });
  });

  it('closes a worker’s NATS connection as soon as its principal is disabled, and refuses its user from then on', async () => {
    const { key } = await addWorker(stack, dir, 'agg-disabled');
    const client = new AdminClient({ address: stack.coordinator.address, key });
    const user = createUser();
    const credentials = await client.joinAggregation({ userPublicKey: user.getPublicKey() }).finally(() => client.close());
    const options = { servers: [stack.nats.url], authenticator: jwtAuthenticator(credentials.jwt, user.getSeed()), inboxPrefix: credentials.inboxPrefix };
    const worker = new SiteConnection(await connect({ ...options, maxReconnectAttempts: 0 }));
    try {
      worker.nc.subscribe(credentials.collectSubject);
      await worker.nc.flush();
      await stack.admin.disablePrincipal('agg-disabled');
      await worker.dropped(5000);
      await expect(connect({ ...options, reconnect: false })).rejects.toMatchObject({ code: 'AUTHORIZATION_VIOLATION' });
    } finally {
      await worker.close();
    }
  }, 30_000);

  it('folds every update itself when no worker is connected, into the same model', async () => {
    const federation = 'no-workers';
    const round = await openRound(stack, federation, 3);
    const local = await metric(stack, 'tributary_fold_jobs_total', 'outcome="local"');
    const verdicts = await Promise.all(round.sites.map((site) => send(raw, federation, round, site)));
    expect(verdicts.map((v) => v.state)).toEqual(round.sites.map(() => 'UPDATE_STATE_ACCEPTED'));
    expect((await stack.admin.waitForRun(round.runId)).status).toBe('RUN_STATUS_FINISHED');
    expect((await metric(stack, 'tributary_fold_jobs_total', 'outcome="local"')) - local).toBe(3);
    expect(await modelError(stack, federation, round, round.sites)).toBeLessThan(1e-6);
  }, 60_000);

  it('refuses worker credentials to a principal outside the group "aggregators"', async () => {
    const key = generateSigningKey('not-a-worker');
    await stack.admin.addPrincipal({ name: 'not-a-worker', publicKey: key.publicKey, groups: [] });
    await stack.admin.grant({ privilege: 'read', resource: 'federation:*', grantee: 'principal:not-a-worker' });
    const client = new AdminClient({ address: stack.coordinator.address, key });
    try {
      await expect(client.joinAggregation({ userPublicKey: createUser().getPublicKey() })).rejects.toMatchObject({ reason: 'NOT_AN_AGGREGATOR' });
    } finally {
      client.close();
    }
  });

  it('tells a key outside the group how to become a worker, when `tributary aggregator` starts with it', async () => {
    const key = generateSigningKey('not-a-worker-cli');
    await stack.admin.addPrincipal({ name: 'not-a-worker-cli', publicKey: key.publicKey, groups: [] });
    await stack.admin.grant({ privilege: 'read', resource: 'federation:*', grantee: 'principal:not-a-worker-cli' });
    const keyFile = join(dir, 'not-a-worker-cli.key');
    await writeKeyFile(keyFile, key);
    const r = await runCli(['aggregator', '--coordinator', stack.coordinator.address, '--key', keyFile], { timeoutMs: 30_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Error (NOT_AN_AGGREGATOR)');
    expect(r.stderr).toContain('--group aggregators');
  }, 40_000);
});
