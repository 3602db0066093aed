import { decodeSafetensors, encodeSafetensors, tensor, type SigningKey, type TensorMap } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSite } from '../helpers/raw-site.js';
import { addSite, startStack, type Stack } from '../helpers/stack.js';
import { referenceFedAvg, toyModel, toyTrain } from '../helpers/training.js';

describe('a coordinator restart in the middle of a round', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('keeps the updates it accepted before the restart and commits them with the rest', async () => {
    const base = toyModel();
    await stack.admin.createFederation({
      name: 'durable',
      settings: { rounds: 1, minSites: 2, roundDeadlineSeconds: 120 },
      initialModel: encodeSafetensors(base),
    });
    const keys: Record<string, SigningKey> = {
      'site-1': await addSite(stack, 'site-1', ['durable']),
      'site-2': await addSite(stack, 'site-2', ['durable']),
    };
    const run = await stack.admin.startRun('durable');
    const first = await stack.rawSite();
    const send = (raw: RawSite, site: string, numExamples: number) =>
      raw.send({ key: keys[site] as SigningKey, site, federation: 'durable', runId: run.id, round: 1, weights: toyTrain(base, site, 1), numExamples });
    expect(await send(first, 'site-1', 10)).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    await first.close();

    await stack.stopCoordinator();
    await stack.restartCoordinator();

    const round = await stack.admin.getRound(run.id, 1);
    expect(round.state).toBe('ROUND_STATE_OPEN');
    expect(round.accepted.map((a) => a.site)).toEqual(['site-1']);

    const second = await stack.rawSite();
    expect(await send(second, 'site-2', 30)).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    await second.close();
    const ended = await stack.admin.waitForRun(run.id);
    expect(ended.status).toBe('RUN_STATUS_FINISHED');

    const expected = referenceFedAvg([
      { weights: toyTrain(base, 'site-1', 1), numExamples: 10 },
      { weights: toyTrain(base, 'site-2', 1), numExamples: 30 },
    ]);
    const model = decodeSafetensors((await stack.admin.downloadModel('durable', 2)).bytes).tensors;
    for (const [name, values] of Object.entries(expected)) {
      const got = model[name]?.data as Float32Array;
      values.forEach((v, i) => expect(Math.abs((got[i] ?? NaN) - v)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(v))));
    }
  });

  it('clips an update accepted before the restart again when it re-folds it', async () => {
    const base = toyModel();
    await stack.admin.createFederation({
      name: 'clip-durable',
      settings: { rounds: 1, minSites: 2, roundDeadlineSeconds: 120, normBound: 1, normBoundMode: 'clip' },
      initialModel: encodeSafetensors(base),
    });
    const keys: Record<string, SigningKey> = {
      'far-site': await addSite(stack, 'far-site', ['clip-durable']),
      'near-site': await addSite(stack, 'near-site', ['clip-durable']),
    };
    const run = await stack.admin.startRun('clip-durable');
    const w = base['w'];
    const b = base['b'];
    if (!w || !b) throw new Error('toy model changed');
    const far = { w: tensor('F32', [2, 3], (w.data as Float32Array).map((v) => v + 10)), b };
    const near = toyTrain(base, 'near-site', 1);
    const first = await stack.rawSite();
    expect(await first.send({ key: keys['far-site'] as SigningKey, site: 'far-site', federation: 'clip-durable', runId: run.id, round: 1, weights: far })).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    await first.close();
    await stack.stopCoordinator();
    await stack.restartCoordinator();
    const second = await stack.rawSite();
    expect(await second.send({ key: keys['near-site'] as SigningKey, site: 'near-site', federation: 'clip-durable', runId: run.id, round: 1, weights: near })).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    await second.close();
    expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
    // far's difference from the base (10 in each of 6 values) scaled to norm 1, averaged with near's.
    const clippedFar: TensorMap = { w: tensor('F32', [2, 3], (w.data as Float32Array).map((v) => v + 10 / (10 * Math.sqrt(6)))), b };
    const expected = referenceFedAvg([
      { weights: clippedFar, numExamples: 10 },
      { weights: near, numExamples: 10 },
    ]);
    const model = decodeSafetensors((await stack.admin.downloadModel('clip-durable', 2)).bytes).tensors;
    for (const [name, values] of Object.entries(expected)) {
      const got = model[name]?.data as Float32Array;
      values.forEach((v, i) => expect(Math.abs((got[i] ?? NaN) - v)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v))));
    }
  });
});
