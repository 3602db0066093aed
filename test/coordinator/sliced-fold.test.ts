import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors, fromFloat64, isTributaryError, tensor, type DType, type TensorMap, type TensorSpec__Output, elementCount } from '@tributary/proto';
import { FOLD_GROUP, FedAvgAggregator, builtinStrategies, updateNorm, type Aggregator, type SlicedSiteUpdate } from '../../coordinator/src/strategies/index.js';
import { FoldAccumulator } from '../../coordinator/src/strategies/fold-kernel.js';
import { inspectStagedPayload, toFoldable, type FoldPolicy } from '../../coordinator/src/updates/foldable-update.js';
import { StoredModel, type GlobalModelSource } from '../../coordinator/src/updates/global-model-values.js';
import { FOLD_READ_SLICE_BYTES, foldPayloadInSlices, foldPayloadsInSlices, type SlicedFoldItem, type SlicingAggregator } from '../../coordinator/src/updates/sliced-update.js';
import { prng } from '../helpers/random.js';
import { roundContext, siteUpdate } from '../helpers/strategy-inputs.js';

// Odd lengths, every float dtype, an integer tensor, and a name a decoded map lists first ("0").
const spec: TensorSpec__Output[] = [
  { name: 'dense.weight', dtype: 'F32', shape: [37, 29] },
  { name: 'dense.bias', dtype: 'F64', shape: [53] },
  { name: 'embedding', dtype: 'F16', shape: [7, 11] },
  { name: 'norm.scale', dtype: 'BF16', shape: [19] },
  { name: 'steps', dtype: 'I32', shape: [5] },
  { name: '0', dtype: 'F32', shape: [13] },
];

function randomModel(random: () => number, spread: number): TensorMap {
  const model: TensorMap = {};
  for (const t of spec) {
    const n = elementCount(t.shape);
    const integer = t.dtype === 'I32';
    const values = Float64Array.from({ length: n }, () => (integer ? Math.round((random() - 0.5) * 100) : (random() - 0.5) * spread));
    model[t.name] = fromFloat64(t.dtype as DType, t.shape, values);
  }
  return model;
}

function policyOf(globalModel: GlobalModelSource, normBound = 0, normMode: 'refuse' | 'clip' = 'refuse'): FoldPolicy {
  return { modelSpec: spec, globalModel, normBound, normMode, heterogeneous: false };
}

/** The committed bytes of an aggregate: equal bytes, equal models to the last bit. */
function bytesOf(model: TensorMap): Buffer {
  return encodeSafetensors(model);
}

describe('folding an update slice by slice from its file', () => {
  let dir: string;
  const random = prng(11);
  const globalModel = randomModel(random, 2);
  const updates: Array<{ path: string; size: number; numExamples: number }> = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-sliced-'));
    for (let k = 0; k < 3; k++) {
      const bytes = encodeSafetensors(randomModel(random, 4));
      const path = join(dir, `update-${k}.safetensors`);
      await writeFile(path, bytes);
      updates.push({ path, size: bytes.length, numExamples: [3, 10, 7][k]! });
    }
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** The global model written to a file and opened as the engine keeps it for fedavg. */
  async function storedGlobal(): Promise<StoredModel> {
    const bytes = encodeSafetensors(globalModel);
    const path = join(dir, 'global.safetensors');
    await writeFile(path, bytes);
    return StoredModel.open(path, bytes.length);
  }

  /** Folds update `k` as the round did before slicing: the payload read and decoded whole. */
  async function foldWhole(aggregator: Aggregator, k: number, policy: FoldPolicy): Promise<boolean> {
    const u = updates[k]!;
    const inspected = await inspectStagedPayload(u.path, u.size, 'tensors', policy);
    if (!inspected.ok) throw new Error(inspected.refusal.message);
    const foldable = await toFoldable(new Uint8Array(await readFile(u.path)), 'tensors', policy, inspected.layout);
    await aggregator.fold(siteUpdate(`site-${k}`, u.numExamples, foldable.tensors));
    return foldable.clipped;
  }

  /** Folds update `k` from its file, `sliceBytes` at a time. */
  async function foldSliced(aggregator: SlicingAggregator, k: number, policy: FoldPolicy, sliceBytes: number): Promise<boolean> {
    const u = updates[k]!;
    const inspected = await inspectStagedPayload(u.path, u.size, 'tensors', policy);
    if (!inspected.ok || inspected.layout === undefined) throw new Error('inspection refused the update');
    const update = { site: `site-${k}`, updateId: `site-${k}`.padEnd(32, '0'), numExamples: u.numExamples, metrics: {} };
    const folded = await foldPayloadInSlices(aggregator, update, { path: u.path, layout: inspected.layout, norm: inspected.norm }, policy, sliceBytes);
    if (folded === undefined) throw new Error('the update was not folded in slices');
    return folded.clipped;
  }

  it.each([8, 24, 4096, FOLD_READ_SLICE_BYTES])('sums exactly what the whole updates sum with slices of %i bytes', async (sliceBytes) => {
    const policy = policyOf(globalModel);
    const whole = new FedAvgAggregator(spec);
    const sliced = new FedAvgAggregator(spec);
    for (let k = 0; k < updates.length; k++) {
      await foldWhole(whole, k, policy);
      await foldSliced(sliced, k, policy, sliceBytes);
    }
    expect(bytesOf(sliced.finish().model).equals(bytesOf(whole.finish().model))).toBe(true);
  });

  it('clips an update read in slices exactly as a whole update is clipped', async () => {
    const policy = policyOf(globalModel, 3, 'clip');
    const whole = new FedAvgAggregator(spec);
    const sliced = new FedAvgAggregator(spec);
    for (let k = 0; k < updates.length; k++) {
      expect(await foldWhole(whole, k, policy)).toBe(true);
      expect(await foldSliced(sliced, k, policy, 24)).toBe(true);
    }
    expect(bytesOf(sliced.finish().model).equals(bytesOf(whole.finish().model))).toBe(true);
  });

  it('measures the norm while inspecting to the last bit of the norm of the decoded update', async () => {
    // Data order puts "w" first; a decoded map lists "7" first: summed in the wrong order, the norm differs in its last bits.
    const values = (seed: number): Float64Array => {
      const r = prng(seed);
      return Float64Array.from({ length: 5000 }, () => (r() - 0.5) * 10 ** Math.floor(r() * 6));
    };
    const model = { w: tensor('F64', [5000], values(1)), '7': tensor('F64', [5000], values(2)) };
    const bytes = safetensorsInDataOrder([
      ['w', model.w.data as Float64Array],
      ['7', model['7'].data as Float64Array],
    ]);
    const path = join(dir, 'ordered.safetensors');
    await writeFile(path, bytes);
    const zeros = { w: tensor('F64', [5000], new Float64Array(5000)), '7': tensor('F64', [5000], new Float64Array(5000)) };
    const policy = { modelSpec: [], globalModel: zeros, normBound: 1e12, normMode: 'clip' as const, heterogeneous: false };
    const inspected = await inspectStagedPayload(path, bytes.length, 'tensors', { ...policy, modelSpec: [{ name: 'w', dtype: 'F64', shape: [5000] }, { name: '7', dtype: 'F64', shape: [5000] }] });
    expect(inspected.ok && inspected.norm).toBe(updateNorm(model, zeros));
  });

  it('measures the same norm against a global model kept on disk as against its decoded tensors', async () => {
    const stored = await storedGlobal();
    const u = updates[2]!;
    const fromDisk = await inspectStagedPayload(u.path, u.size, 'tensors', policyOf(stored, 1e9, 'clip'));
    const fromMemory = await inspectStagedPayload(u.path, u.size, 'tensors', policyOf(globalModel, 1e9, 'clip'));
    expect(fromDisk.ok && fromDisk.norm).toBe(fromMemory.ok && fromMemory.norm);
  });

  it('clips towards a global model kept on disk exactly as towards its decoded tensors', async () => {
    const stored = await storedGlobal();
    const whole = new FedAvgAggregator(spec);
    const sliced = new FedAvgAggregator(spec);
    for (let k = 0; k < updates.length; k++) {
      await foldWhole(whole, k, policyOf(globalModel, 3, 'clip'));
      await foldSliced(sliced, k, policyOf(stored, 3, 'clip'), 24);
    }
    expect(bytesOf(sliced.finish().model).equals(bytesOf(whole.finish().model))).toBe(true);
  });

  it('averages 16-bit tensors under fedadam exactly as the whole-update fold does', async () => {
    const ctx = roundContext({ modelSpec: spec, globalModel, options: {} });
    const fedadam = builtinStrategies().get('fedadam');
    const whole = fedadam.createAggregator(ctx);
    const sliced = fedadam.createAggregator(ctx) as SlicingAggregator;
    const policy = policyOf(globalModel);
    for (let k = 0; k < updates.length; k++) {
      await foldWhole(whole, k, policy);
      await foldSliced(sliced, k, policy, 24);
    }
    const [a, b] = [await whole.finish(), await sliced.finish()];
    expect(bytesOf(b.model).equals(bytesOf(a.model))).toBe(true);
    expect(bytesOf(b.serverState ?? {}).equals(bytesOf(a.serverState ?? {}))).toBe(true);
  });

  /** Updates 0, 1, 2, 0, 1, ... as `count` items from distinct sites, inspected as the round inspects them. */
  async function groupItems(count: number, policy: FoldPolicy): Promise<SlicedFoldItem[]> {
    const items: SlicedFoldItem[] = [];
    for (let j = 0; j < count; j++) {
      const k = j % updates.length;
      const u = updates[k]!;
      const inspected = await inspectStagedPayload(u.path, u.size, 'tensors', policy);
      if (!inspected.ok || inspected.layout === undefined) throw new Error('inspection refused the update');
      const site = `site-${j}`;
      items.push({ update: { site, updateId: site.padEnd(32, '0'), numExamples: u.numExamples + j, metrics: {} }, payload: { path: u.path, layout: inspected.layout, norm: inspected.norm } });
    }
    return items;
  }

  it.each([8, 24, 4096, FOLD_READ_SLICE_BYTES])('folds several updates together to the bits of folding them one by one, slices of %i bytes', async (sliceBytes) => {
    const policy = policyOf(globalModel);
    const items = await groupItems(2 * FOLD_GROUP + 1, policy);
    const apart = new FedAvgAggregator(spec);
    const together = new FedAvgAggregator(spec);
    for (const item of items) await foldPayloadInSlices(apart, item.update, item.payload, policy, sliceBytes);
    const outcomes = await foldPayloadsInSlices(together, items, policy, sliceBytes);
    expect(outcomes.every((o) => o.status === 'fulfilled' && o.value?.clipped === false)).toBe(true);
    expect(together.count).toBe(items.length);
    const [a, b] = [apart.finish(), together.finish()];
    expect(bytesOf(b.model).equals(bytesOf(a.model))).toBe(true);
    expect(b.metrics).toEqual(a.metrics);
  });

  it('clips updates folded together, towards a global model kept on disk, exactly as one by one', async () => {
    const policy = policyOf(await storedGlobal(), 3, 'clip');
    const items = await groupItems(FOLD_GROUP + 1, policy);
    const apart = new FedAvgAggregator(spec);
    const together = new FedAvgAggregator(spec);
    for (const item of items) await foldPayloadInSlices(apart, item.update, item.payload, policy, 24);
    const outcomes = await foldPayloadsInSlices(together, items, policy, 24);
    expect(outcomes.map((o) => o.status === 'fulfilled' && o.value?.clipped)).toEqual(items.map(() => true));
    expect(bytesOf(together.finish().model).equals(bytesOf(apart.finish().model))).toBe(true);
  });

  it('refuses one update of a group alone, before adding any of its values, and folds the others', async () => {
    const policy = policyOf(globalModel);
    const items = await groupItems(3, policy);
    const zero = { ...items[1]!, update: { ...items[1]!.update, numExamples: 0 } };
    const together = new FedAvgAggregator(spec);
    const outcomes = await foldPayloadsInSlices(together, [items[0]!, zero, items[2]!], policy, 24);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const refused = outcomes[1]!;
    expect(refused.status === 'rejected' && isTributaryError(refused.reason) && refused.reason.reason).toBe('ZERO_EXAMPLES');
    const reference = new FedAvgAggregator(spec);
    for (const item of [items[0]!, items[2]!]) await foldPayloadInSlices(reference, item.update, item.payload, policy, 24);
    expect(bytesOf(together.finish().model).equals(bytesOf(reference.finish().model))).toBe(true);
  });

  it('folds updates together whose slices are of different lengths', async () => {
    const n = 2 * 65_536 + 29;
    const small: TensorSpec__Output[] = [{ name: 'w', dtype: 'F32', shape: [n] }];
    const r = prng(3);
    const data = [0, 1, 2].map(() => Float32Array.from({ length: n }, () => r() - 0.5));
    const sliced = (j: number, step: number): SlicedSiteUpdate => ({
      site: `s${j}`, updateId: `s${j}`.padEnd(32, '0'), numExamples: 2 + j, metrics: {}, specs: small,
      values: async function* () {
        for (let at = 0; at < n; at += step) yield data[j]!.slice(at, at + step);
      },
    });
    const steps = [1000, 65_536, 7];
    const apart = new FedAvgAggregator(small);
    for (const j of [0, 1, 2]) await apart.foldSlices(sliced(j, steps[j]!));
    const together = new FedAvgAggregator(small);
    const outcomes = await together.foldSlicesTogether([0, 1, 2].map((j) => sliced(j, steps[j]!)));
    expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
    expect(bytesOf(together.finish().model).equals(bytesOf(apart.finish().model))).toBe(true);
  });

  it('refuses every update of a group and fails the aggregate when one of them ends short', async () => {
    const small: TensorSpec__Output[] = [{ name: 'w', dtype: 'F32', shape: [100] }];
    const update = (j: number, length: number): SlicedSiteUpdate => ({
      site: `s${j}`, updateId: `s${j}`.padEnd(32, '0'), numExamples: 1, metrics: {}, specs: small,
      values: async function* () {
        yield new Float32Array(length).fill(1);
      },
    });
    const aggregator = new FedAvgAggregator(small);
    const outcomes = await aggregator.foldSlicesTogether([update(0, 100), update(1, 60)]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    const first = outcomes[0]!;
    expect(first.status === 'rejected' && String(first.reason)).toMatch(/holds 60 values, not 100/);
    expect(() => aggregator.finish()).toThrow(/incomplete/);
  });

  it('refuses an update of another spec before adding any of its values', async () => {
    const aggregator = new FedAvgAggregator(spec);
    await foldSliced(aggregator, 0, policyOf(globalModel), 24);
    const reference = new FedAvgAggregator(spec);
    await foldSliced(reference, 0, policyOf(globalModel), 24);
    const wrong = { site: 'x', updateId: 'x'.padEnd(32, '0'), numExamples: 1, metrics: {}, specs: spec.slice(1), values: () => emptySlices() };
    const err = await aggregator.foldSlices(wrong).catch((e: unknown) => e);
    expect(isTributaryError(err) && err.reason).toBe('STRATEGY_ERROR');
    expect(bytesOf(aggregator.finish().model).equals(bytesOf(reference.finish().model))).toBe(true);
  });

  it('fails the aggregate rather than finish it when a payload ends part way through its fold', async () => {
    const u = updates[1]!;
    const policy = policyOf(globalModel);
    const inspected = await inspectStagedPayload(u.path, u.size, 'tensors', policy);
    if (!inspected.ok || inspected.layout === undefined) throw new Error('inspection refused the update');
    const broken = join(dir, 'broken.safetensors');
    await writeFile(broken, await readFile(u.path));
    await truncate(broken, u.size - 100);
    const aggregator = new FedAvgAggregator(spec);
    await foldSliced(aggregator, 0, policy, 24);
    const update = { site: 'b', updateId: 'b'.padEnd(32, '0'), numExamples: 1, metrics: {} };
    await expect(foldPayloadInSlices(aggregator, update, { path: broken, layout: inspected.layout, norm: undefined }, policy, 24)).rejects.toMatchObject({ reason: 'MALFORMED_PAYLOAD' });
    let err: unknown;
    try {
      aggregator.finish();
    } catch (e) {
      err = e;
    }
    expect(isTributaryError(err) && err.reason).toBe('STRATEGY_ERROR');
  });
});

describe('FoldAccumulator slices', () => {
  it.each([true, false])('folds slices at their offsets to exactly the sums of whole arrays (WebAssembly kernel: %s)', (useWasm) => {
    const random = prng(5);
    const length = 300_001;
    const values = Float32Array.from({ length }, () => random() - 0.5);
    const whole = new FoldAccumulator([length], useWasm);
    const sliced = new FoldAccumulator([length], useWasm);
    for (const weight of [3, 0.1, 7]) {
      whole.add(0, values, weight);
      for (let at = 0; at < length; at += 77_777) sliced.addAt(0, at, values.subarray(at, at + 77_777), weight);
    }
    expect(Buffer.from(sliced.sums[0]!.buffer, sliced.sums[0]!.byteOffset, sliced.sums[0]!.byteLength).equals(Buffer.from(whole.sums[0]!.buffer, whole.sums[0]!.byteOffset, whole.sums[0]!.byteLength))).toBe(true);
  });

  it('refuses a slice that reaches past the end of its tensor', () => {
    const acc = new FoldAccumulator([10]);
    expect(() => acc.addAt(0, 8, new Float32Array(3), 1)).toThrow(RangeError);
  });
});

/** A safetensors file of F64 tensors whose data lies in the order given (encodeSafetensors lays it out in map order). */
function safetensorsInDataOrder(tensors: Array<[string, Float64Array]>): Buffer {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, data] of tensors) {
    header[name] = { dtype: 'F64', shape: [data.length], data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, Buffer.from(json), ...tensors.map(([, data]) => Buffer.from(data.buffer, data.byteOffset, data.byteLength))]);
}

async function* emptySlices(): AsyncGenerator<Float32Array> {
  yield* [];
}
