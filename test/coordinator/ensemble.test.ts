import { describe, expect, it } from 'vitest';
import {
  ENSEMBLE_METADATA_KEY,
  OPAQUE_PAYLOAD_TENSOR,
  decodeEnsemble,
  decodeSafetensors,
  encodeSafetensors,
  ensembleTensors,
  isTributaryError,
  tensor,
} from '@tributary/proto';
import type { EnsembleMemberInput, TensorMap } from '@tributary/proto';
import type { RoundContext, SiteUpdate } from '@tributary/coordinator';
import { EnsembleStrategy } from '../../coordinator/src/strategies/index.js';
import { caught } from '../helpers/errors.js';
import { roundContext } from '../helpers/strategy-inputs.js';

const strategy = new EnsembleStrategy();

function context(options: Record<string, string> = {}): RoundContext {
  return roundContext({ federation: 'ensembles', options: strategy.validateOptions(options) });
}

/** A distinct, valid update id per site name. */
function updateIdOf(site: string): string {
  return Buffer.from(site.padEnd(16, '.').slice(0, 16)).toString('hex');
}

function linearModel(inputs: number, outputs: number, seed: number): TensorMap {
  return {
    'linear.weight': tensor('F32', [outputs, inputs], Float32Array.from({ length: inputs * outputs }, (_, i) => seed + i / 10)),
    'linear.bias': tensor('F64', [outputs], Float64Array.from({ length: outputs }, (_, i) => seed - i)),
  };
}

function tensorUpdate(site: string, numExamples: number, metrics: Record<string, number> = {}, tensors = linearModel(4, 3, numExamples)): SiteUpdate {
  return { site, updateId: updateIdOf(site), numExamples, metrics, flavor: 'tensors', tensors };
}

function opaqueUpdate(site: string, numExamples: number, bytes: Uint8Array, flavor = 'custom:naive-bayes', metrics: Record<string, number> = {}): SiteUpdate {
  return { site, updateId: updateIdOf(site), numExamples, metrics, flavor, tensors: { [OPAQUE_PAYLOAD_TENSOR]: tensor('U8', [bytes.length], bytes) } };
}

async function aggregate(updates: SiteUpdate[], options: Record<string, string> = {}) {
  const aggregator = strategy.createAggregator(context(options));
  for (const u of updates) await aggregator.fold(u);
  const result = await aggregator.finish();
  const ensemble = decodeEnsemble({ tensors: result.model, metadata: result.metadata ?? {} });
  return { result, ensemble, weights: Object.fromEntries(ensemble.members.map((m) => [m.site, m.weight])) };
}

function expectError(err: unknown, match: { code?: string; reason: string }, message?: RegExp): void {
  expect(isTributaryError(err), String(err)).toBe(true);
  expect(err).toMatchObject(match);
  if (message) expect((err as Error).message).toMatch(message);
}

describe('ensemble options', () => {
  it('takes models of any shape (heterogeneous) and fills in the defaults', () => {
    expect(strategy.name).toBe('ensemble');
    expect(strategy.heterogeneous).toBe(true);
    expect(strategy.validateOptions({})).toEqual({ weight_by: 'num_examples', top_k: '0' });
  });

  it('normalises a metric rule with its mode, top_k and the combine hint', () => {
    expect(strategy.validateOptions({ weight_by: 'metric:val_auc', top_k: '03', combine: 'vote' })).toEqual({
      weight_by: 'metric:val_auc',
      metric_mode: 'max',
      top_k: '3',
      combine: 'vote',
    });
    expect(strategy.validateOptions({ weight_by: 'metric:val_loss', metric_mode: 'min' })).toMatchObject({ metric_mode: 'min' });
  });

  it.each([
    [{ alpha: '1' }, /unknown option "alpha" for strategy ensemble/],
    [{ weight_by: 'accuracy' }, /"weight_by" must be "num_examples" or "metric:<key>"/],
    [{ weight_by: 'metric:' }, /"weight_by"/],
    [{ weight_by: 'metric:acc', metric_mode: 'best' }, /"metric_mode" must be "max" .* or "min"/],
    [{ metric_mode: 'min' }, /"metric_mode" applies only with weight_by=metric:<key>/],
    [{ top_k: '-1' }, /"top_k" must be an integer >= 0/],
    [{ top_k: '1.5' }, /"top_k"/],
    [{ top_k: '' }, /"top_k"/],
    [{ combine: 'median' }, /"combine" must be "mean" or "vote"/],
  ])('refuses %j with INVALID_ARGUMENT naming the option', (options, message) => {
    expectError(caught(() => strategy.validateOptions(options)), { code: 'INVALID_ARGUMENT', reason: 'INVALID_ARGUMENT' }, message);
  });

  it('tells the sites which validation metric to report when members are weighted by one', () => {
    const ctx = { federation: 'f', runId: 'r', round: 1, modelSpec: [] };
    expect(strategy.siteConfig({ ...ctx, options: strategy.validateOptions({}) })).toEqual({});
    expect(strategy.siteConfig({ ...ctx, options: strategy.validateOptions({ weight_by: 'metric:val_acc' }) })).toEqual({
      weight_by: 'metric:val_acc',
      metric_mode: 'max',
    });
  });
});

describe('ensemble aggregation', () => {
  it('weights members by their numbers of examples, highest weight first', async () => {
    const { ensemble, weights, result } = await aggregate([tensorUpdate('site-a', 10), tensorUpdate('site-b', 60), tensorUpdate('site-c', 30)]);
    expect(ensemble.members.map((m) => m.site)).toEqual(['site-b', 'site-c', 'site-a']);
    expect(weights['site-a']).toBeCloseTo(0.1, 12);
    expect(weights['site-b']).toBeCloseTo(0.6, 12);
    expect(weights['site-c']).toBeCloseTo(0.3, 12);
    expect(result.metrics).toMatchObject({ ensemble_members: 3, ensemble_pruned: 0, num_sites: 3, num_examples: 100 });
    expect(result.metrics['ensemble_weight_max']).toBeCloseTo(0.6, 12);
    expect(result.metrics['ensemble_effective_members']).toBeCloseTo(1 / (0.01 + 0.36 + 0.09), 12);
  });

  it('weights members in proportion to a validation metric where higher is better (metric_mode=max)', async () => {
    const { weights } = await aggregate(
      [tensorUpdate('site-a', 500, { val_acc: 0.9 }), tensorUpdate('site-b', 5, { val_acc: 0.6 }), tensorUpdate('site-c', 50, { val_acc: 0.3 })],
      { weight_by: 'metric:val_acc' },
    );
    expect(weights['site-a']).toBeCloseTo(0.9 / 1.8, 12);
    expect(weights['site-b']).toBeCloseTo(0.6 / 1.8, 12);
    expect(weights['site-c']).toBeCloseTo(0.3 / 1.8, 12);
  });

  it('weights members by the inverse of a metric where lower is better (metric_mode=min)', async () => {
    const { weights, ensemble } = await aggregate(
      [tensorUpdate('site-a', 10, { val_loss: 0.5 }), tensorUpdate('site-b', 10, { val_loss: 1 }), tensorUpdate('site-c', 10, { val_loss: 2 })],
      { weight_by: 'metric:val_loss', metric_mode: 'min' },
    );
    // 1/0.5 : 1/1 : 1/2 = 2 : 1 : 0.5
    expect(weights['site-a']).toBeCloseTo(2 / 3.5, 9);
    expect(weights['site-b']).toBeCloseTo(1 / 3.5, 9);
    expect(weights['site-c']).toBeCloseTo(0.5 / 3.5, 9);
    expect(ensemble.members[0]?.site).toBe('site-a');
  });

  it('gives equal weights when every member scores 0 on the metric', async () => {
    const { weights } = await aggregate([tensorUpdate('site-a', 1, { acc: 0 }), tensorUpdate('site-b', 9, { acc: 0 })], { weight_by: 'metric:acc' });
    expect(weights).toEqual({ 'site-a': 0.5, 'site-b': 0.5 });
  });

  it('refuses an update without the weighting metric with STRATEGY_ERROR, and still aggregates the others', async () => {
    const aggregator = strategy.createAggregator(context({ weight_by: 'metric:val_acc' }));
    aggregator.fold(tensorUpdate('site-a', 10, { val_acc: 0.8 }));
    const err = caught(() => aggregator.fold(tensorUpdate('site-b', 10, { loss: 0.2 })));
    expectError(err, { reason: 'STRATEGY_ERROR' }, /site "site-b" does not report the validation metric "val_acc"/);
    expectError(caught(() => aggregator.fold(tensorUpdate('site-c', 10, { val_acc: Number.NaN }))), { reason: 'STRATEGY_ERROR' });
    expectError(caught(() => aggregator.fold(tensorUpdate('site-d', 10, { val_acc: -0.1 }))), { reason: 'STRATEGY_ERROR' }, /needs values >= 0/);
    expect(aggregator.count).toBe(1);
    const result = await aggregator.finish();
    expect(result.metrics['ensemble_members']).toBe(1);
  });

  it('prunes to the top_k weights and renormalises the kept ones', async () => {
    const { ensemble, weights, result } = await aggregate(
      [tensorUpdate('site-a', 10), tensorUpdate('site-b', 40), tensorUpdate('site-c', 20), tensorUpdate('site-d', 30)],
      { top_k: '2' },
    );
    expect(ensemble.members.map((m) => m.site)).toEqual(['site-b', 'site-d']);
    expect(weights['site-b']).toBeCloseTo(40 / 70, 12);
    expect(weights['site-d']).toBeCloseTo(30 / 70, 12);
    expect(result.metrics).toMatchObject({ ensemble_members: 2, ensemble_pruned: 2, num_sites: 4 });
    // Pruned members leave no tensor behind.
    expect(Object.keys(result.model).every((name) => name.startsWith('members/0/') || name.startsWith('members/1/'))).toBe(true);
  });

  it('breaks ties in the ranking by site name, whatever the arrival order', async () => {
    const model = linearModel(2, 2, 0);
    const updates = ['site-c', 'site-a', 'site-b'].map((site) => tensorUpdate(site, 20, {}, model));
    const forward = await aggregate(updates, { top_k: '2' });
    expect(forward.ensemble.members.map((m) => m.site)).toEqual(['site-a', 'site-b']);
    const reversed = await aggregate([...updates].reverse(), { top_k: '2' });
    expect(encodeSafetensors(reversed.result.model, reversed.result.metadata)).toEqual(encodeSafetensors(forward.result.model, forward.result.metadata));
  });

  it('keeps every member when top_k is 0 or exceeds the number of members', async () => {
    for (const topK of ['0', '9']) {
      const { ensemble } = await aggregate([tensorUpdate('site-a', 1), tensorUpdate('site-b', 2)], { top_k: topK });
      expect(ensemble.members).toHaveLength(2);
    }
  });

  it('mixes members of different shapes and opaque flavors, and round-trips them through safetensors', async () => {
    const onnx = Uint8Array.from([8, 7, 18, 4, 0x6f, 0x6e, 0x6e, 0x78]);
    const nb = new TextEncoder().encode(JSON.stringify({ priors: [0.3, 0.7], means: [[1, 2], [3, 4]] }));
    const small = tensorUpdate('site-a', 30, { val_acc: 0.9, loss: 0.3 }, linearModel(4, 3, 1));
    const wide = tensorUpdate('site-b', 50, { val_acc: 0.8 }, { hashed: tensor('F16', [64, 3], new Uint16Array(192).fill(0x3c00)), 'nested/name': tensor('I64', [2], BigInt64Array.from([1n, -2n])) });
    const updates = [small, wide, opaqueUpdate('site-c', 15, nb), opaqueUpdate('site-d', 5, onnx, 'onnx')];
    const { result } = await aggregate(updates, { combine: 'mean' });

    const bytes = encodeSafetensors(result.model, result.metadata);
    const manifest = JSON.parse(decodeSafetensors(bytes).metadata[ENSEMBLE_METADATA_KEY] ?? 'null') as { version: number; combine: string };
    expect(manifest).toMatchObject({ version: 1, combine: 'mean' });
    const ensemble = decodeEnsemble(bytes);
    expect(ensemble.combine).toBe('mean');
    expect(ensemble.members.map((m) => [m.index, m.site, m.flavor, m.numExamples])).toEqual([
      [0, 'site-b', 'tensors', 50],
      [1, 'site-a', 'tensors', 30],
      [2, 'site-c', 'custom:naive-bayes', 15],
      [3, 'site-d', 'onnx', 5],
    ]);
    expect(ensemble.members.map((m) => m.weight).reduce((s, w) => s + w, 0)).toBeCloseTo(1, 12);
    const [b, a, c, d] = ensemble.members;
    expect(a?.updateId).toBe(updateIdOf('site-a'));
    expect(a?.metrics).toEqual({ val_acc: 0.9, loss: 0.3 });
    expect(a?.tensors?.['linear.weight']?.shape).toEqual([3, 4]);
    expect(a?.tensors?.['linear.weight']?.data).toEqual(small.tensors['linear.weight']?.data);
    expect(a?.tensors?.['linear.bias']?.data).toEqual(small.tensors['linear.bias']?.data);
    expect(Object.keys(b?.tensors ?? {})).toEqual(['hashed', 'nested/name']);
    expect(b?.tensors?.['nested/name']?.data).toEqual(BigInt64Array.from([1n, -2n]));
    expect(c?.bytes).toEqual(nb);
    expect(c?.tensors).toBeUndefined();
    expect(JSON.parse(new TextDecoder().decode(c?.bytes))).toEqual({ priors: [0.3, 0.7], means: [[1, 2], [3, 4]] });
    expect(d?.bytes).toEqual(onnx);
  });

  it('reports the examples-weighted mean of the site metrics', async () => {
    const { result } = await aggregate([tensorUpdate('site-a', 10, { loss: 1 }), tensorUpdate('site-b', 30, { loss: 3 })]);
    expect(result.metrics['loss']).toBeCloseTo(2.5, 12);
  });
});

describe('ensemble refusals', () => {
  it.each([
    ['an unknown flavor', opaqueUpdate('site-x', 5, Uint8Array.of(1), 'pickle'), /payload flavor "pickle"/],
    ['a custom flavor with a bad name', opaqueUpdate('site-x', 5, Uint8Array.of(1), 'custom:Bad Name'), /payload flavor/],
    ['an opaque flavor carrying named tensors', { ...tensorUpdate('site-x', 5), flavor: 'onnx' }, /single U8 tensor "__payload__"/],
    ['a tensors member without tensors', { ...tensorUpdate('site-x', 5), tensors: {} }, /no tensors/],
  ])('refuses %s with STRATEGY_ERROR and keeps the aggregate', async (_what, update, message) => {
    const aggregator = strategy.createAggregator(context());
    aggregator.fold(tensorUpdate('site-a', 10));
    expectError(caught(() => aggregator.fold(update)), { code: 'INVALID_ARGUMENT', reason: 'STRATEGY_ERROR' }, message);
    expect(aggregator.count).toBe(1);
    expect((await aggregator.finish()).metrics['ensemble_members']).toBe(1);
  });

  it('refuses an update without examples with ZERO_EXAMPLES', () => {
    const aggregator = strategy.createAggregator(context());
    expectError(caught(() => aggregator.fold(tensorUpdate('site-a', 0))), { reason: 'ZERO_EXAMPLES' });
  });

  it('refuses a second member from the same site', () => {
    const aggregator = strategy.createAggregator(context());
    aggregator.fold(tensorUpdate('site-a', 10));
    expectError(caught(() => aggregator.fold({ ...tensorUpdate('site-a', 10), updateId: 'f'.repeat(32) })), { reason: 'STRATEGY_ERROR' }, /already a member/);
  });

  it('fails to finish with nothing folded, and cannot be used once finished', async () => {
    const empty = strategy.createAggregator(context());
    expectError(caught(() => empty.finish()), { code: 'FAILED_PRECONDITION', reason: 'STRATEGY_ERROR' }, /no update/);
    const aggregator = strategy.createAggregator(context());
    aggregator.fold(tensorUpdate('site-a', 10));
    await aggregator.finish();
    expectError(caught(() => aggregator.finish()), { reason: 'STRATEGY_ERROR' }, /already aggregated/);
    expectError(caught(() => aggregator.fold(tensorUpdate('site-b', 10))), { reason: 'STRATEGY_ERROR' });
  });
});

describe('ensemble payload codec', () => {
  const member = (over: Partial<EnsembleMemberInput> = {}): EnsembleMemberInput =>
    ({ site: 'site-a', updateId: 'a'.repeat(32), flavor: 'tensors', weight: 1, numExamples: 3, metrics: {}, tensors: linearModel(2, 2, 0), ...over }) as EnsembleMemberInput;

  it('normalises weights to sum 1 and leaves non-finite metrics out', () => {
    const { tensors, metadata } = ensembleTensors([member({ weight: 3, metrics: { acc: 0.5, loss: Number.NaN } }), member({ site: 'site-b', updateId: 'b'.repeat(32), flavor: 'onnx', tensors: undefined, bytes: Uint8Array.of(1, 2), weight: 1 })]);
    expect(Object.keys(tensors)).toEqual(['members/0/linear.weight', 'members/0/linear.bias', 'members/1/__payload__']);
    const { members } = decodeEnsemble({ tensors, metadata });
    expect(members.map((m) => m.weight)).toEqual([0.75, 0.25]);
    expect(members[0]?.metrics).toEqual({ acc: 0.5 });
  });

  it.each([
    ['no members', [] as EnsembleMemberInput[], /at least one member/],
    ['a negative weight', [member({ weight: -1 })], /weights must be finite and >= 0/],
    ['weights that are all 0', [member({ weight: 0 })], /must not all be 0/],
    ['an invalid site name', [member({ site: 'Site A' })], /not a valid site name/],
    ['an invalid update id', [member({ updateId: 'xyz' })], /update id/],
    ['an unknown flavor', [member({ flavor: 'tflite' })], /payload flavor "tflite"/],
    ['an opaque member without bytes', [member({ flavor: 'onnx', tensors: undefined, bytes: new Uint8Array(0) })], /non-empty payload/],
  ])('refuses to pack %s with INVALID_ARGUMENT', (_what, members, message) => {
    expectError(caught(() => ensembleTensors(members)), { code: 'INVALID_ARGUMENT', reason: 'INVALID_ARGUMENT' }, message);
  });

  function packed(): { tensors: TensorMap; metadata: Record<string, string>; manifest: Record<string, unknown> } {
    const { tensors, metadata } = ensembleTensors([member(), member({ site: 'site-b', updateId: 'b'.repeat(32), flavor: 'custom:nb', tensors: undefined, bytes: Uint8Array.of(9) })]);
    return { tensors, metadata, manifest: JSON.parse(metadata[ENSEMBLE_METADATA_KEY]!) as Record<string, unknown> };
  }
  const withManifest = (tensors: TensorMap, manifest: unknown) => ({ tensors, metadata: { [ENSEMBLE_METADATA_KEY]: JSON.stringify(manifest) } });
  const members = (m: Record<string, unknown>) => m['members'] as Array<Record<string, unknown>>;

  it.each([
    ['a model without the manifest', () => ({ tensors: packed().tensors, metadata: {} }), /not an ensemble model/],
    ['a manifest that is not JSON', () => ({ tensors: packed().tensors, metadata: { [ENSEMBLE_METADATA_KEY]: '{' } }), /not valid JSON/],
    ['an unknown manifest version', () => withManifest(packed().tensors, { ...packed().manifest, version: 2 }), /version 2 is not supported/],
    ['weights that do not sum to 1', () => {
      const { tensors, manifest } = packed();
      members(manifest)[0]!['weight'] = 0.9;
      return withManifest(tensors, manifest);
    }, /weights sum to/],
    ['a member out of order', () => {
      const { tensors, manifest } = packed();
      members(manifest)[0]!['index'] = 1;
      return withManifest(tensors, manifest);
    }, /member 0 has index 1/],
    ['a tensor that belongs to no member', () => {
      const { tensors, metadata } = packed();
      return { tensors: { ...tensors, 'members/7/w': tensor('F32', [1], new Float32Array(1)) }, metadata };
    }, /"members\/7\/w" belongs to no member/],
    ['an opaque member with a second tensor', () => {
      const { tensors, metadata } = packed();
      return { tensors: { ...tensors, 'members/1/extra': tensor('U8', [1], new Uint8Array(1)) }, metadata };
    }, /exactly one 1-D U8 tensor/],
    ['a tensors member without tensors', () => {
      const { tensors, metadata } = packed();
      return { tensors: { 'members/1/__payload__': tensors['members/1/__payload__']! }, metadata };
    }, /member 0 .* has no tensors/],
  ])('refuses to decode %s with MALFORMED_PAYLOAD', (_what, input, message) => {
    expectError(caught(() => decodeEnsemble(input())), { code: 'INVALID_ARGUMENT', reason: 'MALFORMED_PAYLOAD' }, message);
  });

  it('refuses bytes that are not safetensors with MALFORMED_PAYLOAD', () => {
    expectError(caught(() => decodeEnsemble(Uint8Array.of(1, 2, 3))), { reason: 'MALFORMED_PAYLOAD' });
  });
});
