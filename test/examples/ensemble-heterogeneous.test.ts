// Three sites train three different kinds of model on their own (non-IID) share of Iris: a
// softmax regression on signed feature hashing, one on random Fourier features (so the two
// have different tensor names and shapes), and a Gaussian naive Bayes shipped as an opaque
// `custom:naive-bayes` JSON payload. The ensemble strategy packs them into one model version;
// the SDK's EnsembleModel combines their predictions on the held-out rows.
import { describe, expect, it } from 'vitest';
import { EnsembleModel } from '@tributary/client-sdk';
import { OPAQUE_PAYLOAD_TENSOR, decodeSafetensors, encodeSafetensors, fromFloat64, tensor, toFloat64 } from '@tributary/proto';
import type { EnsembleCombine, EnsembleMember, TensorMap } from '@tributary/proto';
import type { SiteUpdate } from '@tributary/coordinator';
import { EnsembleStrategy } from '../../coordinator/src/strategies/index.js';
import { NUM_CLASSES, NUM_FEATURES, splitIris } from '../../examples/src/quickstart/data.js';
import type { Dataset } from '../../examples/src/quickstart/data.js';
import { prng } from '../helpers/random.js';
import { roundContext } from '../helpers/strategy-inputs.js';

/**
 * Accuracy the ensemble must beat on the 30 held-out rows. Each site sees mostly two classes,
 * so its model alone reaches about 0.73-0.83 there; the ensemble reaches about 0.9-0.93.
 */
const ENSEMBLE_ACCURACY_THRESHOLD = 0.85;

type Rows = number[][];

function rowsOf(data: Dataset): Rows {
  return Array.from({ length: data.size }, (_, i) => Array.from(data.x.subarray(i * NUM_FEATURES, (i + 1) * NUM_FEATURES)));
}

/** Every `every`-th row of a site is its local validation set; the rest is what it trains on. */
function localSplit(data: Dataset, every: number): { train: { x: Rows; y: number[] }; validation: { x: Rows; y: number[] } } {
  const x = rowsOf(data);
  const pick = (keep: (i: number) => boolean) => ({ x: x.filter((_, i) => keep(i)), y: Array.from(data.y).filter((_, i) => keep(i)) });
  return { train: pick((i) => i % every !== every - 1), validation: pick((i) => i % every === every - 1) };
}

/** Each site chooses how much of its data to hold out, so they train on different numbers of rows. */
const VALIDATION_EVERY: Record<string, number> = { 'site-a': 5, 'site-b': 4, 'site-c': 3 };

function argmax(row: readonly number[]): number {
  let best = 0;
  row.forEach((v, c) => {
    if (v > row[best]!) best = c;
  });
  return best;
}

function accuracyOf(predicted: readonly number[], labels: ArrayLike<number>): number {
  return predicted.filter((c, i) => c === labels[i]).length / predicted.length;
}

// --- feature maps: each site's own ---------------------------------------------------------

/** Signed feature hashing of the raw features and their pairwise products into `buckets`. */
interface HashingMap {
  bucket: Int32Array;
  sign: Float32Array;
  buckets: number;
}

function hashingMap(buckets: number, seed: number): HashingMap {
  const random = prng(seed);
  const inputs = NUM_FEATURES + (NUM_FEATURES * (NUM_FEATURES + 1)) / 2;
  return {
    bucket: Int32Array.from({ length: inputs }, () => Math.floor(random() * buckets)),
    sign: Float32Array.from({ length: inputs }, () => (random() < 0.5 ? -1 : 1)),
    buckets,
  };
}

function hashFeatures(map: HashingMap, x: readonly number[]): number[] {
  const base = [...x];
  for (let i = 0; i < NUM_FEATURES; i++) for (let j = i; j < NUM_FEATURES; j++) base.push(x[i]! * x[j]!);
  const out = new Array<number>(map.buckets).fill(0);
  base.forEach((v, k) => (out[map.bucket[k]!]! += map.sign[k]! * v));
  return out;
}

/** Random Fourier features approximating an RBF kernel of length scale `scale`. */
interface FourierMap {
  omega: Float32Array; // [dims, NUM_FEATURES]
  phase: Float32Array; // [dims]
  dims: number;
}

function fourierMap(dims: number, scale: number, seed: number): FourierMap {
  const random = prng(seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return {
    omega: Float32Array.from({ length: dims * NUM_FEATURES }, () => gaussian() / scale),
    phase: Float32Array.from({ length: dims }, () => random() * 2 * Math.PI),
    dims,
  };
}

function fourierFeatures(map: FourierMap, x: readonly number[]): number[] {
  return Array.from({ length: map.dims }, (_, d) => {
    let dot = map.phase[d]!;
    for (let f = 0; f < NUM_FEATURES; f++) dot += map.omega[d * NUM_FEATURES + f]! * x[f]!;
    return Math.sqrt(2 / map.dims) * Math.cos(dot);
  });
}

// --- softmax regression over any feature map ----------------------------------------------

interface Softmax {
  w: Float64Array; // [NUM_CLASSES, dims]
  b: Float64Array; // [NUM_CLASSES]
  dims: number;
}

function softmaxProbabilities(m: Softmax, phi: readonly number[]): number[] {
  const scores = Array.from({ length: NUM_CLASSES }, (_, c) => phi.reduce((s, v, d) => s + m.w[c * m.dims + d]! * v, m.b[c]!));
  const max = Math.max(...scores);
  const e = scores.map((s) => Math.exp(s - max));
  const total = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / total);
}

/** Full-batch gradient descent on the cross-entropy with a little L2. */
function trainSoftmax(features: Rows, labels: readonly number[], epochs = 600, learningRate = 0.5, l2 = 1e-3): Softmax {
  const dims = features[0]!.length;
  const m: Softmax = { w: new Float64Array(NUM_CLASSES * dims), b: new Float64Array(NUM_CLASSES), dims };
  for (let epoch = 0; epoch < epochs; epoch++) {
    const gw = new Float64Array(m.w.length);
    const gb = new Float64Array(m.b.length);
    features.forEach((phi, i) => {
      const p = softmaxProbabilities(m, phi);
      for (let c = 0; c < NUM_CLASSES; c++) {
        const delta = p[c]! - (c === labels[i] ? 1 : 0);
        gb[c]! += delta;
        for (let d = 0; d < dims; d++) gw[c * dims + d]! += delta * phi[d]!;
      }
    });
    const step = learningRate / features.length;
    for (let k = 0; k < m.w.length; k++) m.w[k]! -= step * (gw[k]! + l2 * features.length * m.w[k]!);
    for (let c = 0; c < NUM_CLASSES; c++) m.b[c]! -= step * gb[c]!;
  }
  return m;
}

// --- the three kinds of member, as their sites ship them -----------------------------------

function hashedSoftmaxTensors(map: HashingMap, m: Softmax): TensorMap {
  return {
    'hash.bucket': tensor('I32', [map.bucket.length], map.bucket),
    'hash.sign': tensor('F32', [map.sign.length], map.sign),
    'softmax.weight': fromFloat64('F32', [NUM_CLASSES, m.dims], m.w),
    'softmax.bias': fromFloat64('F32', [NUM_CLASSES], m.b),
  };
}

function fourierSoftmaxTensors(map: FourierMap, m: Softmax): TensorMap {
  return {
    'rff.omega': tensor('F32', [map.dims, NUM_FEATURES], map.omega),
    'rff.phase': tensor('F32', [map.dims], map.phase),
    'softmax.weight': fromFloat64('F32', [NUM_CLASSES, m.dims], m.w),
    'softmax.bias': fromFloat64('F32', [NUM_CLASSES], m.b),
  };
}

/** Gaussian naive Bayes, as the JSON document its site's framework writes. */
interface NaiveBayes {
  kind: 'gaussian-naive-bayes';
  logPriors: number[];
  means: number[][];
  variances: number[][];
}

function trainNaiveBayes(x: Rows, y: readonly number[]): NaiveBayes {
  // Variance smoothing: a class seen twice must not get a zero variance.
  const smoothing = 0.05;
  const byClass = Array.from({ length: NUM_CLASSES }, (_, c) => x.filter((_, i) => y[i] === c));
  const means = byClass.map((rows) => Array.from({ length: NUM_FEATURES }, (_, f) => rows.reduce((s, r) => s + r[f]!, 0) / rows.length));
  const variances = byClass.map((rows, c) =>
    Array.from({ length: NUM_FEATURES }, (_, f) => rows.reduce((s, r) => s + (r[f]! - means[c]![f]!) ** 2, 0) / rows.length + smoothing),
  );
  return { kind: 'gaussian-naive-bayes', logPriors: byClass.map((rows) => Math.log(rows.length / x.length)), means, variances };
}

function naiveBayesProbabilities(nb: NaiveBayes, row: readonly number[]): number[] {
  const logp = nb.logPriors.map((prior, c) =>
    row.reduce((s, v, f) => {
      const variance = nb.variances[c]![f]!;
      return s - 0.5 * Math.log(2 * Math.PI * variance) - (v - nb.means[c]![f]!) ** 2 / (2 * variance);
    }, prior),
  );
  const max = Math.max(...logp);
  const e = logp.map((l) => Math.exp(l - max));
  const total = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / total);
}

/** What a user of the ensemble writes: run one member, whatever kind it is, on raw rows. */
function predictMember(member: EnsembleMember, rows: Rows): Rows {
  if (member.flavor === 'custom:naive-bayes' && member.bytes !== undefined) {
    const nb = JSON.parse(new TextDecoder().decode(member.bytes)) as NaiveBayes;
    return rows.map((r) => naiveBayesProbabilities(nb, r));
  }
  const t = member.tensors;
  if (t === undefined) throw new Error(`no runtime for flavor ${member.flavor}`);
  const weight = t['softmax.weight']!;
  const softmax: Softmax = { w: toFloat64(weight), b: toFloat64(t['softmax.bias']!), dims: weight.shape[1]! };
  const features = (() => {
    if (t['hash.bucket'] !== undefined) {
      const map: HashingMap = { bucket: t['hash.bucket'].data as Int32Array, sign: t['hash.sign']!.data as Float32Array, buckets: softmax.dims };
      return (r: number[]) => hashFeatures(map, r);
    }
    const map: FourierMap = { omega: t['rff.omega']!.data as Float32Array, phase: t['rff.phase']!.data as Float32Array, dims: softmax.dims };
    return (r: number[]) => fourierFeatures(map, r);
  })();
  return rows.map((r) => softmaxProbabilities(softmax, features(r)));
}

// --- the federation's round ----------------------------------------------------------------

interface SiteModel {
  site: string;
  update: SiteUpdate;
  /** The member alone on the held-out rows. */
  heldOutAccuracy: number;
}

function trainSites(): { sites: SiteModel[]; test: { x: Rows; y: Uint8Array } } {
  const split = splitIris();
  const test = { x: rowsOf(split.test), y: split.test.y };
  const trainers: Record<string, (train: { x: Rows; y: number[] }) => { flavor: string; tensors: TensorMap; predict: (rows: Rows) => Rows }> = {
    'site-a': ({ x, y }) => {
      const map = hashingMap(10, 11);
      const m = trainSoftmax(x.map((r) => hashFeatures(map, r)), y);
      // As the coordinator receives it: a safetensors payload, decoded.
      const tensors = decodeSafetensors(encodeSafetensors(hashedSoftmaxTensors(map, m))).tensors;
      return { flavor: 'tensors', tensors, predict: (rows) => rows.map((r) => softmaxProbabilities(m, hashFeatures(map, r))) };
    },
    'site-b': ({ x, y }) => {
      const map = fourierMap(24, 1.5, 22);
      const m = trainSoftmax(x.map((r) => fourierFeatures(map, r)), y);
      const tensors = decodeSafetensors(encodeSafetensors(fourierSoftmaxTensors(map, m))).tensors;
      return { flavor: 'tensors', tensors, predict: (rows) => rows.map((r) => softmaxProbabilities(m, fourierFeatures(map, r))) };
    },
    'site-c': ({ x, y }) => {
      const nb = trainNaiveBayes(x, y);
      // An opaque payload reaches the strategy as one U8 tensor.
      const bytes = new TextEncoder().encode(JSON.stringify(nb));
      return { flavor: 'custom:naive-bayes', tensors: { [OPAQUE_PAYLOAD_TENSOR]: tensor('U8', [bytes.length], bytes) }, predict: (rows) => rows.map((r) => naiveBayesProbabilities(nb, r)) };
    },
  };
  const sites = split.sites.map((data, k): SiteModel => {
    const local = localSplit(data, VALIDATION_EVERY[data.name]!);
    const trained = trainers[data.name]!(local.train);
    const valAccuracy = accuracyOf(trained.predict(local.validation.x).map(argmax), local.validation.y);
    const update: SiteUpdate = {
      site: data.name,
      updateId: String(k + 1).repeat(32),
      numExamples: local.train.y.length,
      metrics: { val_accuracy: valAccuracy },
      flavor: trained.flavor,
      tensors: trained.tensors,
    };
    return { site: data.name, update, heldOutAccuracy: accuracyOf(trained.predict(test.x).map(argmax), test.y) };
  });
  return { sites, test };
}

/** The committed model version's bytes, as DownloadModel returns them. */
async function ensembleRound(updates: SiteUpdate[], options: Record<string, string>): Promise<Uint8Array> {
  const strategy = new EnsembleStrategy();
  const aggregator = strategy.createAggregator(roundContext({ federation: 'iris', runId: 'run-1', options: strategy.validateOptions(options) }));
  for (const u of updates) await aggregator.fold(u);
  const { model, metadata } = await aggregator.finish();
  return encodeSafetensors(model, metadata);
}

describe('an ensemble of heterogeneous models on Iris', () => {
  const { sites, test } = trainSites();
  const updates = sites.map((s) => s.update);
  const worstMember = Math.min(...sites.map((s) => s.heldOutAccuracy));
  const bestMember = Math.max(...sites.map((s) => s.heldOutAccuracy));

  it('packs members of different shapes and frameworks into one model version', async () => {
    const model = EnsembleModel.decode(await ensembleRound(updates, {}));
    const bySite = Object.fromEntries(model.members.map((m) => [m.site, m]));
    expect(bySite['site-a']?.tensors?.['softmax.weight']?.shape).toEqual([NUM_CLASSES, 10]);
    expect(bySite['site-b']?.tensors?.['softmax.weight']?.shape).toEqual([NUM_CLASSES, 24]);
    expect(bySite['site-c']?.flavor).toBe('custom:naive-bayes');
    expect(bySite['site-c']?.bytes).toEqual(updates[2]?.tensors[OPAQUE_PAYLOAD_TENSOR]?.data);
  });

  it.for<[string, Record<string, string>, (u: SiteUpdate) => number]>([
    ['num_examples', {}, (u) => u.numExamples],
    ['metric:val_accuracy', { weight_by: 'metric:val_accuracy' }, (u) => u.metrics['val_accuracy']!],
  ])('weights members by %s and beats the threshold and its worst member on held-out rows', async ([rule, options, score], { annotate }) => {
    const model = EnsembleModel.decode(await ensembleRound(updates, options));
    expect(new Set(updates.map(score)).size, 'the rule tells the sites apart').toBeGreaterThan(1);
    const total = updates.reduce((s, u) => s + score(u), 0);
    for (const u of updates) {
      expect(model.members.find((m) => m.site === u.site)?.weight, u.site).toBeCloseTo(score(u) / total, 12);
    }
    const accuracy = Object.fromEntries(
      (['mean', 'vote'] as EnsembleCombine[]).map((combine) => [combine, accuracyOf(model.predict(test.x, predictMember, { combine }).classes, test.y)]),
    );
    const members = sites.map((s) => `${s.site} ${s.heldOutAccuracy.toFixed(3)}`).join(', ');
    await annotate(`weight_by=${rule}: held-out accuracy mean ${accuracy['mean']!.toFixed(3)}, vote ${accuracy['vote']!.toFixed(3)}; members alone: ${members}`);
    for (const combine of ['mean', 'vote']) {
      expect(accuracy[combine], `${combine} (${members})`).toBeGreaterThan(ENSEMBLE_ACCURACY_THRESHOLD);
      expect(accuracy[combine], `${combine} (${members})`).toBeGreaterThanOrEqual(worstMember);
    }
    // Averaging probabilities pools what each site learnt of the classes it rarely sees.
    expect(accuracy['mean'], members).toBeGreaterThan(bestMember);
  });

  it('predicts with each member exactly as its site does', async () => {
    const model = EnsembleModel.decode(await ensembleRound(updates, {}));
    for (const member of model.members) {
      const site = sites.find((s) => s.site === member.site)!;
      const alone = accuracyOf(predictMember(member, test.x).map(argmax), test.y);
      // F32 storage of the softmax weights may move a probability by ~1e-7, never a whole row here.
      expect(alone, member.site).toBeCloseTo(site.heldOutAccuracy, 9);
    }
  });
});
