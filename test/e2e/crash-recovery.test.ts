import { decodeSafetensors, encodeSafetensors, STREAM_UPDATES, type SigningKey, type TensorMap } from '@tributary/proto';
import { connect } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import { UPDATE_CONSUMER } from '../../coordinator/src/ingest/streams.js';
import { startProcessStack, type ProcessStack } from '../helpers/process-stack.js';
import { prepareUpload, type RawSite } from '../helpers/raw-site.js';
import { eventually } from '../helpers/stack.js';
import { referenceFedAvg, toyModel, toyTrain } from '../helpers/training.js';
import { generateSigningKey } from '@tributary/proto';

/** Bytes per payload chunk here: the toy model's payload spans a dozen chunks, so an upload can stop halfway. */
const SMALL_CHUNK = 16;

async function addSites(stack: ProcessStack, federation: string, names: string[]): Promise<Record<string, SigningKey>> {
  const keys: Record<string, SigningKey> = {};
  for (const name of names) {
    const key = generateSigningKey(name);
    await stack.admin.addSite({ name, publicKey: key.publicKey, federations: [federation] });
    keys[name] = key;
  }
  return keys;
}

/** Manifests the coordinator holds: delivered on TRIB_UPDATES and not yet acknowledged. */
async function heldManifests(stack: ProcessStack): Promise<number> {
  const nc = await connect({ servers: [stack.nats.url] });
  try {
    return (await (await nc.jetstreamManager()).consumers.info(STREAM_UPDATES, UPDATE_CONSUMER)).num_ack_pending;
  } finally {
    await nc.close();
  }
}

function expectModel(model: TensorMap, expected: Record<string, Float64Array>): void {
  for (const [name, values] of Object.entries(expected)) {
    const got = model[name]?.data as Float32Array;
    values.forEach((v, i) => expect(Math.abs((got[i] ?? NaN) - v)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(v))));
  }
}

describe('a coordinator killed with kill -9', () => {
  let stack: ProcessStack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('takes new updates at once after a restart, although it died holding every ingest slot', async () => {
    stack = await startProcessStack({ ingest: { payloadTimeout: '3s' } });
    const base = toyModel();
    await stack.admin.createFederation({ name: 'slots', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 100 }, initialModel: encodeSafetensors(base) });
    const stalled = ['stall-1', 'stall-2', 'stall-3', 'stall-4'];
    const keys = await addSites(stack, 'slots', [...stalled, 'live']);
    const run = await stack.admin.startRun('slots');
    const raw = await stack.rawSite();
    try {
      // Four manifests whose chunks never come: each holds one of the four ingest slots.
      const js = raw.nc.jetstream();
      for (const site of stalled) {
        const upload = prepareUpload({ key: keys[site] as SigningKey, site, federation: 'slots', runId: run.id, round: 1, weights: toyTrain(base, site, 1) });
        await js.publish(upload.manifest.subject, upload.manifest.bytes, { msgID: upload.updateId });
      }
      await eventually(async () => ((await heldManifests(stack as ProcessStack)) === 4 ? true : undefined));
      await stack.killCoordinator();
      await stack.startCoordinator();

      const live = await stack.rawSite();
      try {
        const verdict = live.send({ key: keys['live'] as SigningKey, site: 'live', federation: 'slots', runId: run.id, round: 1, weights: toyTrain(base, 'live', 1) });
        // Well inside the round's deadline, far sooner than the held deliveries' ack wait would allow before.
        await expect(verdict).resolves.toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
      } finally {
        await live.close();
      }
    } finally {
      await raw.close();
    }
  }, 90_000);

  it('completes the round after a restart with every update counted once, matching the uninterrupted model', async () => {
    stack = await startProcessStack();
    const base = toyModel();
    await stack.admin.createFederation({ name: 'resume', settings: { rounds: 1, minSites: 4, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(base) });
    const names = ['site-a', 'site-b', 'site-c', 'site-d'];
    const examples: Record<string, number> = { 'site-a': 10, 'site-b': 20, 'site-c': 30, 'site-d': 40 };
    const keys = await addSites(stack, 'resume', names);
    const run = await stack.admin.startRun('resume');
    const upload = (raw: RawSite, site: string) =>
      raw.send({ key: keys[site] as SigningKey, site, federation: 'resume', runId: run.id, round: 1, weights: toyTrain(base, site, 1), numExamples: examples[site] as number });

    let raw = await stack.rawSite();
    expect(await upload(raw, 'site-a')).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    expect(await upload(raw, 'site-b')).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    // site-c is halfway through its upload when the coordinator dies.
    const c = prepareUpload({ key: keys['site-c'] as SigningKey, site: 'site-c', federation: 'resume', runId: run.id, round: 1, weights: toyTrain(base, 'site-c', 1), numExamples: 30, chunkSize: SMALL_CHUNK });
    const js = raw.nc.jetstream();
    const half = Math.floor(c.chunks.length / 2);
    for (const chunk of c.chunks.slice(0, half)) await js.publish(chunk.subject, chunk.data, { msgID: chunk.msgID, headers: chunk.headers });
    await js.publish(c.manifest.subject, c.manifest.bytes, { msgID: c.updateId });
    await eventually(async () => ((await heldManifests(stack as ProcessStack)) === 1 ? true : undefined));
    await stack.killCoordinator();
    await raw.close();

    await stack.startCoordinator();
    raw = await stack.rawSite();
    try {
      const cVerdict = raw.verdict('resume', 'site-c', c.updateId, 60_000);
      for (const chunk of c.chunks.slice(half)) await raw.nc.jetstream().publish(chunk.subject, chunk.data, { msgID: chunk.msgID, headers: chunk.headers });
      expect(await cVerdict).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
      expect(await upload(raw, 'site-d')).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    } finally {
      await raw.close();
    }
    expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
    const round = await stack.admin.getRound(run.id, 1);
    expect(round.accepted.map((a) => a.site).sort()).toEqual(names);
    const model = decodeSafetensors((await stack.admin.downloadModel('resume', 2)).bytes).tensors;
    expectModel(model, referenceFedAvg(names.map((site) => ({ weights: toyTrain(base, site, 1), numExamples: examples[site] as number }))));
  }, 120_000);
});
