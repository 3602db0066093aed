import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tensor, toFloat64, type TensorMap } from '@tributary/proto';
import { LocalFederation } from '@tributary/client-sdk/testing';

// What a site author writes: the site's training code, tested against a local federation.
const STEP = [1, 4];
const EXAMPLES = [10, 30];

/** Site n adds STEP[n] to every weight and says it trained on EXAMPLES[n] examples. */
function nudge(model: TensorMap, index: number): TensorMap {
  const w = toFloat64(model['w'] ?? tensor('F32', [0], new Float32Array(0)));
  return { w: tensor('F32', [4], Float32Array.from(w, (x) => x + (STEP[index] ?? 0))) };
}

describe('@tributary/client-sdk/testing: LocalFederation', () => {
  let fed: LocalFederation;
  beforeAll(async () => {
    fed = await LocalFederation.start({ model: { w: tensor('F32', [4], new Float32Array([0, 1, 2, 3])) }, sites: 2, rounds: 3 });
  });
  afterAll(async () => {
    await fed?.close();
  });

  it('runs every site with the train callback and commits the FedAvg of their updates each round', async () => {
    const trained: string[] = [];
    const result = await fed.run(async (task, site) => {
      trained.push(`${site.name}@${task.round}`);
      task.log({ loss: 1 / task.round });
      return { weights: nudge(task.model, site.index), numExamples: EXAMPLES[site.index] ?? 1 };
    });

    expect(result.status).toBe('RUN_STATUS_FINISHED');
    expect(result.rounds.map((r) => r.state)).toEqual(['ROUND_STATE_COMMITTED', 'ROUND_STATE_COMMITTED', 'ROUND_STATE_COMMITTED']);
    expect(result.rounds.map((r) => r.committedVersion)).toEqual([2, 3, 4]);
    expect(trained.sort()).toEqual(['site-1@1', 'site-1@2', 'site-1@3', 'site-2@1', 'site-2@2', 'site-2@3']);
    const everyTaskAccepted = { tasks: 3, accepted: 3, refused: 0, failed: 0, end: { how: 'run-ended', run: { federation: fed.federation, runId: result.runId, status: 'FINISHED', message: '', round: 3 } } };
    expect(result.sites).toEqual({ 'site-1': everyTaskAccepted, 'site-2': everyTaskAccepted });

    // Each round moves the weights by the example-weighted mean step: (10 * 1 + 30 * 4) / 40 = 3.25.
    const latest = await fed.latestModel();
    expect(latest.version).toBe(result.modelVersion);
    expect(latest.version).toBe(4);
    expect([...(latest.model['w']?.data ?? [])]).toEqual([9.75, 10.75, 11.75, 12.75]);
  });

  it('rejects at once with the error a train callback throws, and stops the run', async () => {
    const started = Date.now();
    const failing = fed.run(async (task, site) => {
      if (site.index === 1) throw new Error('site-2 cannot read its data');
      return { weights: nudge(task.model, site.index), numExamples: 10 };
    });
    await expect(failing).rejects.toThrow('site-2 cannot read its data');
    // Well before the round's 60 s deadline.
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('rejects an update that does not match the model spec, naming the reason', async () => {
    const wrongShape = fed.run(async () => ({ weights: { w: tensor('F32', [2], new Float32Array(2)) }, numExamples: 10 }), { rounds: 1 });
    await expect(wrongShape).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'SCHEMA_MISMATCH' });
  });
});
