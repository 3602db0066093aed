import {
  CHUNK_INDEX_HEADER,
  STREAM_PAYLOADS,
  encodeEnvelope,
  encodeManifest,
  encodeSafetensors,
  newUpdateId,
  sha256Hex,
  signEnvelope,
  subjects,
  tensorSpecsOf,
  type SigningKey,
  type UpdateStatus__Output,
} from '@tributary/proto';
import { headers } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSite } from '../helpers/raw-site.js';
import { addSite, eventually, startStack, type Stack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

/** The shortest upload deadline in this suite; the chunk idle timeout is longer, so only the deadline can end a trickle. */
const MIN_UPLOAD_TIME = '15s';
const CHUNK = 32;

/**
 * Bound stated by the design: with four verification slots and one upload at a time per site, a
 * site trickling chunks holds one slot at most, so another site's update is verified beside it
 * and never waits for the trickle to end.
 */
describe('a site trickling chunks', () => {
  let stack: Stack;
  let raw: RawSite;
  let runId = '';
  let trickler: SigningKey;
  let honest: SigningKey;
  const federation = 'fair';
  const base = toyModel();
  const trickled: { updateId: string; verdict: Promise<UpdateStatus__Output> }[] = [];
  const settled = new Map<string, UpdateStatus__Output>();

  beforeAll(async () => {
    stack = await startStack({ ingest: { concurrency: 4, payloadTimeout: '60s', minUploadTime: MIN_UPLOAD_TIME } }, { natsAuth: false });
    raw = await stack.rawSite();
    await stack.admin.createFederation({ name: federation, settings: { rounds: 1, roundDeadlineSeconds: 300 }, initialModel: encodeSafetensors(base) });
    trickler = await addSite(stack, 'trickler', [federation]);
    honest = await addSite(stack, 'honest', [federation]);
    runId = (await stack.admin.startRun(federation)).id;
  });
  afterAll(async () => {
    await raw?.close();
    await stack?.stop();
  });

  /** Publishes a signed manifest and only the first of its chunks: the rest never comes. */
  async function startTrickle(): Promise<void> {
    const js = raw.nc.jetstream();
    const weights = toyTrain(base, 'trickler', 1);
    const payload = encodeSafetensors(weights);
    const updateId = newUpdateId();
    const chunkCount = Math.ceil(payload.length / CHUNK);
    const manifest = encodeManifest({
      federation,
      runId,
      round: 1,
      site: 'trickler',
      updateId,
      createdAtMs: Date.now(),
      numExamples: 10,
      metrics: {},
      payloadSize: payload.length,
      payloadSha256: sha256Hex(payload),
      chunkCount,
      chunkSize: CHUNK,
      tensors: tensorSpecsOf(weights),
      flavor: 'tensors',
      baseVersion: 0,
    });
    const verdict = raw.verdict(federation, 'trickler', updateId, 60_000);
    verdict.then((v) => settled.set(updateId, v), () => undefined);
    trickled.push({ updateId, verdict });
    await js.publish(subjects.update(federation, runId, 1, 'trickler'), encodeEnvelope(signEnvelope('update', manifest, trickler)), { msgID: updateId });
    const h = headers();
    h.set(CHUNK_INDEX_HEADER, '0');
    await js.publish(subjects.sitePayload(federation, 'trickler', updateId), payload.subarray(0, CHUNK), { msgID: `trickler.${updateId}.0`, headers: h });
  }

  it('gets one upload at a time: its other updates are refused with UPLOAD_IN_PROGRESS', async () => {
    for (let i = 0; i < 4; i++) await startTrickle();
    await eventually(() => settled.size >= 3 || undefined);
    expect([...settled.values()].map((v) => v.reason)).toEqual(['UPLOAD_IN_PROGRESS', 'UPLOAD_IN_PROGRESS', 'UPLOAD_IN_PROGRESS']);
  });

  it("does not delay another site's update: it is accepted while the trickle is still being read", async () => {
    const v = await raw.send({ key: honest, site: 'honest', federation, runId, round: 1, weights: toyTrain(base, 'honest', 1) });
    expect(v).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    const uploading = trickled.filter((t) => !settled.has(t.updateId));
    expect(uploading).toHaveLength(1);
  });

  it('is refused with UPLOAD_TIMEOUT at its upload deadline, before the chunk idle timeout', async () => {
    const uploading = trickled.find((t) => settled.get(t.updateId)?.reason !== 'UPLOAD_IN_PROGRESS');
    const v = await uploading?.verdict;
    expect(v).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason: 'UPLOAD_TIMEOUT' });
  });

  it('leaves none of its chunks behind once its updates are refused', async () => {
    const jsm = await raw.nc.jetstreamManager();
    const left = async (): Promise<number> => {
      const info = await jsm.streams.info(STREAM_PAYLOADS, { subjects_filter: 'trib.fair.payload.trickler.*' });
      return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
    };
    await eventually(async () => ((await left()) === 0 ? true : undefined));
    expect(await left()).toBe(0);
  });
});
