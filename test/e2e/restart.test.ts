import { decodeSafetensors, encodeSafetensors, type SigningKey } from '@tributary/proto';
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
    const first = await RawSite.connect(stack.nats.url);
    const send = (raw: RawSite, site: string, numExamples: number) =>
      raw.send({ key: keys[site] as SigningKey, site, federation: 'durable', runId: run.id, round: 1, weights: toyTrain(base, site, 1), numExamples });
    expect(await send(first, 'site-1', 10)).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    await first.close();

    await stack.stopCoordinator();
    await stack.restartCoordinator();

    const round = await stack.admin.getRound(run.id, 1);
    expect(round.state).toBe('ROUND_STATE_OPEN');
    expect(round.accepted.map((a) => a.site)).toEqual(['site-1']);

    const second = await RawSite.connect(stack.nats.url);
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
});
