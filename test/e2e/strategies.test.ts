import { decodeSafetensors, encodeSafetensors, tensor, type SigningKey, type TensorMap } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSite } from '../helpers/raw-site.js';
import { addSite, startStack, type Stack } from '../helpers/stack.js';
import { expectClose } from '../helpers/numeric.js';
import { referenceFedAvg, toyModel, toyTrain } from '../helpers/training.js';

/** The model's values in spec order, as float64. */
function flat(model: TensorMap): Float64Array {
  return Float64Array.from(Object.values(model).flatMap((t) => Array.from(t.data as Float32Array)));
}

describe('strategies through the real coordinator', () => {
  let stack: Stack;
  let raw: RawSite;
  beforeAll(async () => {
    stack = await startStack();
    raw = await stack.rawSite();
  });
  afterAll(async () => {
    await raw?.close();
    await stack?.stop();
  });

  it('fedadam takes Adam steps on the pseudo-gradient, and keeps its moments across a coordinator restart', async () => {
    const base = toyModel();
    const opts = { eta: 0.05, beta_1: 0.9, beta_2: 0.99, tau: 0.001 };
    await stack.admin.createFederation({
      name: 'adam',
      settings: { strategy: 'fedadam', strategyOptions: Object.fromEntries(Object.entries(opts).map(([k, v]) => [k, String(v)])), rounds: 2, minSites: 2, roundDeadlineSeconds: 120 },
      initialModel: encodeSafetensors(base),
    });
    const keys: Record<string, SigningKey> = { 'adam-1': await addSite(stack, 'adam-1', ['adam']), 'adam-2': await addSite(stack, 'adam-2', ['adam']) };
    const run = await stack.admin.startRun('adam');
    expect((await stack.admin.getRound(run.id, 1)).config['eta_l']).toBe('0.1');

    // Reference: Reddi et al. Algorithm 2 with m0 = 0, v0 = tau^2, in float64.
    let x = flat(base);
    const m = new Float64Array(x.length);
    const v = new Float64Array(x.length).fill(opts.tau ** 2);
    let global: TensorMap = base;
    for (let round = 1; round <= 2; round++) {
      const updates = Object.keys(keys).map((site, i) => ({ site, weights: toyTrain(global, site, round), numExamples: 10 * (i + 1) }));
      for (const u of updates) {
        const verdict = await raw.send({ key: keys[u.site] as SigningKey, site: u.site, federation: 'adam', runId: run.id, round, weights: u.weights, numExamples: u.numExamples });
        expect(verdict.state).toBe('UPDATE_STATE_ACCEPTED');
      }
      const mean = Float64Array.from(Object.values(referenceFedAvg(updates)).flatMap((a) => Array.from(a)));
      for (let i = 0; i < x.length; i++) {
        const delta = (mean[i] ?? 0) - (x[i] ?? 0);
        m[i] = opts.beta_1 * (m[i] ?? 0) + (1 - opts.beta_1) * delta;
        v[i] = opts.beta_2 * (v[i] ?? 0) + (1 - opts.beta_2) * delta * delta;
      }
      x = x.map((xi, i) => xi + (opts.eta * (m[i] ?? 0)) / (Math.sqrt(v[i] ?? 0) + opts.tau));
      const committed = decodeSafetensors((await waitForVersion(stack, 'adam', round + 1)).bytes).tensors;
      expectClose(flat(committed), x, 1e-5);
      // Sites train from the stored (float32) model, as real ones would.
      global = committed;
      x = flat(committed);
      if (round === 1) {
        await stack.stopCoordinator();
        await stack.restartCoordinator();
      }
    }
    expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
  });

  it('multi-krum leaves a poisoned update out of the average', async () => {
    const base = toyModel();
    await stack.admin.createFederation({
      name: 'krum',
      settings: { strategy: 'multi-krum', strategyOptions: { f: '1' }, rounds: 1, minSites: 5, roundDeadlineSeconds: 120 },
      initialModel: encodeSafetensors(base),
    });
    const names = ['k-1', 'k-2', 'k-3', 'k-4', 'k-evil'];
    const keys: Record<string, SigningKey> = {};
    for (const name of names) keys[name] = await addSite(stack, name, ['krum']);
    const run = await stack.admin.startRun('krum');
    const honest = names.slice(0, 4).map((site) => ({ site, weights: toyTrain(base, site, 1), numExamples: 10 }));
    const w = base['w'];
    const b = base['b'];
    if (!w || !b) throw new Error('toy model changed');
    const poisoned: TensorMap = { w: tensor('F32', [2, 3], (w.data as Float32Array).map((x) => -50 * x - 100)), b };
    for (const u of [...honest, { site: 'k-evil', weights: poisoned, numExamples: 100_000 }]) {
      const verdict = await raw.send({ key: keys[u.site] as SigningKey, site: u.site, federation: 'krum', runId: run.id, round: 1, weights: u.weights, numExamples: u.numExamples });
      expect(verdict.state).toBe('UPDATE_STATE_ACCEPTED');
    }
    expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
    const committed = decodeSafetensors((await stack.admin.downloadModel('krum', 2)).bytes).tensors;
    // Uniform mean of the four honest updates (multi-krum averages the selected ones uniformly).
    const expected = Float64Array.from(Object.values(referenceFedAvg(honest)).flatMap((a) => Array.from(a)));
    expectClose(flat(committed), expected, 1e-6);
    const round = await stack.admin.getRound(run.id, 1);
    expect(round.metrics['krum_selected_count']).toBe(4);
  });
});

async function waitForVersion(stack: Stack, federation: string, version: number): Promise<{ bytes: Buffer }> {
  const until = Date.now() + 20_000;
  for (;;) {
    const versions = await stack.admin.listModelVersions(federation);
    if (versions.some((v) => v.version === version)) return stack.admin.downloadModel(federation, version);
    if (Date.now() > until) throw new Error(`model version ${version} was not committed`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
