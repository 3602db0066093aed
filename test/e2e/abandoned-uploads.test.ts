import { STREAM_PAYLOADS, encodeSafetensors, type SigningKey } from '@tributary/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { addSites, metricValue, startProcessStack, type ProcessStack } from '../helpers/process-stack.js';
import { prepareUpload } from '../helpers/raw-site.js';
import { eventually } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

/** Messages of one subject in the payload stream. */
async function chunksOf(stack: ProcessStack, subject: string): Promise<number> {
  const nc = await connect({ servers: [stack.nats.url] });
  try {
    const info = await (await nc.jetstreamManager()).streams.info(STREAM_PAYLOADS, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  } finally {
    await nc.close();
  }
}

describe('abandoned uploads', () => {
  let stack: ProcessStack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('are purged from the payload stream when their manifest never comes: a site that crashed mid-upload and sent a new update after its restart', async () => {
    // Uploads untouched for twice the payload timeout are abandoned: 2 s here.
    const live = await startProcessStack({ ingest: { payloadTimeout: '1s' } });
    stack = live;
    const base = toyModel();
    await live.admin.createFederation({ name: 'abandon', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(base) });
    const keys = await addSites(live, 'abandon', ['crashy']);
    const run = await live.admin.startRun('abandon');
    const key = keys['crashy'] as SigningKey;
    const raw = await live.rawSite();
    try {
      // Half of an upload's chunks, then the site dies: its manifest never comes.
      const lost = prepareUpload({ key, site: 'crashy', federation: 'abandon', runId: run.id, round: 1, weights: toyTrain(base, 'crashy', 1), chunkSize: 16 });
      const js = raw.nc.jetstream();
      for (const chunk of lost.chunks.slice(0, Math.ceil(lost.chunks.length / 2))) await js.publish(chunk.subject, chunk.data, { msgID: chunk.msgID, headers: chunk.headers });
      const subject = lost.chunks[0]?.subject as string;
      expect(await chunksOf(live, subject)).toBeGreaterThan(0);
      // Restarted, the site sends its update again under a new id, and it is accepted.
      expect(await raw.send({ key, site: 'crashy', federation: 'abandon', runId: run.id, round: 1, weights: toyTrain(base, 'crashy', 1) })).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
      await eventually(async () => ((await chunksOf(live, subject)) === 0 ? true : undefined), 60_000);
    } finally {
      await raw.close();
    }
  }, 120_000);

  it('are purged once NATS is back when a sweep failed while it was down, and the updates accepted before stay in the round', async () => {
    const live = await startProcessStack({ ingest: { payloadTimeout: '1s' } });
    stack = live;
    const base = toyModel();
    await live.admin.createFederation({ name: 'outage', settings: { rounds: 1, minSites: 2, roundDeadlineSeconds: 300 }, initialModel: encodeSafetensors(base) });
    const keys = await addSites(live, 'outage', ['steady', 'crashy']);
    const run = await live.admin.startRun('outage');
    const steady = keys['steady'] as SigningKey;
    const crashy = keys['crashy'] as SigningKey;
    const sweeps = async (outcome: string): Promise<number> => metricValue(await live.metricsText(), 'tributary_payload_sweeps_total', `outcome="${outcome}"`);
    const before = await live.rawSite();
    let subject: string;
    try {
      expect(await before.send({ key: steady, site: 'steady', federation: 'outage', runId: run.id, round: 1, weights: toyTrain(base, 'steady', 1) })).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
      // Half of an upload, then the site dies: its manifest never comes.
      const lost = prepareUpload({ key: crashy, site: 'crashy', federation: 'outage', runId: run.id, round: 1, weights: toyTrain(base, 'crashy', 1), chunkSize: 16 });
      const js = before.nc.jetstream();
      for (const chunk of lost.chunks.slice(0, Math.ceil(lost.chunks.length / 2))) await js.publish(chunk.subject, chunk.data, { msgID: chunk.msgID, headers: chunk.headers });
      subject = lost.chunks[0]?.subject as string;
      expect(await chunksOf(live, subject)).toBeGreaterThan(0);
    } finally {
      await before.close();
    }
    // NATS stays down until a sweep has failed on it.
    await live.restartNats({ whileDown: async () => void (await eventually(async () => ((await sweeps('failed')) >= 1 ? true : undefined), 60_000)) });
    await eventually(async () => ((await chunksOf(live, subject)) === 0 ? true : undefined), 60_000);
    expect(await sweeps('completed')).toBeGreaterThan(0);
    const after = await live.rawSite();
    try {
      expect(await after.send({ key: crashy, site: 'crashy', federation: 'outage', runId: run.id, round: 1, weights: toyTrain(base, 'crashy', 1), retry: { initialDelayMs: 250, maxDelayMs: 2_000, maxAttempts: 30 } }, 60_000)).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    } finally {
      await after.close();
    }
    expect((await live.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
    expect((await live.admin.getRound(run.id, 1)).accepted.map((u) => u.site).sort()).toEqual(['crashy', 'steady']);
  }, 180_000);
});
