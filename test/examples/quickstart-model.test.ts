import { describe, expect, it } from 'vitest';
import { CLASS_NAMES, classCounts, concatDatasets, splitIris } from '../../examples/src/quickstart/data.js';
import { accuracy, crossEntropy, fromTensors, initModel, toTensors, train } from '../../examples/src/quickstart/model.js';

describe('quickstart iris split', () => {
  const split = splitIris();

  it('holds out a stratified test set of ten rows per class', () => {
    expect(classCounts(split.test)).toEqual([10, 10, 10]);
  });

  it('gives every site a different class mix, each dominated by a different class', () => {
    const mixes = split.sites.map((site) => classCounts(site));
    expect(new Set(mixes.map((m) => m.join('/'))).size).toBe(split.sites.length);
    const dominant = mixes.map((m) => m.indexOf(Math.max(...m)));
    expect(new Set(dominant).size).toBe(CLASS_NAMES.length);
    split.sites.forEach((site, i) => {
      // Non-IID: the rarest class is at most a tenth of the site's rows.
      expect(Math.min(...mixes[i]!)).toBeLessThanOrEqual(site.size / 10);
    });
  });

  it('shares no row between two sites or between a site and the test set', () => {
    const seen = new Set<number>(split.test.rows);
    let total = split.test.rows.length;
    for (const site of split.sites) {
      for (const row of site.rows) seen.add(row);
      total += site.rows.length;
    }
    expect(seen.size).toBe(total);
    expect(total).toBe(150);
  });

  it('is the same for the same seed and differs for another', () => {
    expect(splitIris({ seed: 7 }).test.rows).toEqual(splitIris({ seed: 7 }).test.rows);
    expect(splitIris({ seed: 8 }).test.rows).not.toEqual(splitIris({ seed: 7 }).test.rows);
  });

  it('standardises features with the training statistics', () => {
    const train = concatDatasets(split.sites);
    for (let f = 0; f < 4; f++) {
      let sum = 0;
      let squares = 0;
      for (let i = 0; i < train.size; i++) {
        const v = train.x[i * 4 + f]!;
        sum += v;
        squares += v * v;
      }
      expect(sum / train.size).toBeCloseTo(0, 9);
      expect(squares / train.size).toBeCloseTo(1, 9);
    }
  });
});

describe('quickstart softmax regression', () => {
  const split = splitIris();

  it('reaches more than 0.9 held-out accuracy when trained on all training rows', () => {
    const { model } = train(initModel(), concatDatasets(split.sites), { epochs: 200, learningRate: 1 });
    expect(accuracy(model, split.test)).toBeGreaterThan(0.9);
  });

  it('lowers the training loss with every epoch', () => {
    const data = concatDatasets(split.sites);
    const losses: number[] = [];
    const { model, loss } = train(initModel(), data, { epochs: 20, learningRate: 1, onEpoch: (_e, l) => losses.push(l) });
    expect(losses).toHaveLength(20);
    for (let i = 1; i < losses.length; i++) expect(losses[i]!).toBeLessThan(losses[i - 1]!);
    expect(loss).toBeCloseTo(crossEntropy(model, data), 12);
    expect(loss).toBeLessThan(losses[0]!);
  });

  it('leaves the starting model untouched', () => {
    const start = initModel();
    train(start, split.sites[0]!, { epochs: 5, learningRate: 1 });
    expect([...start.w, ...start.b].every((v) => v === 0)).toBe(true);
  });

  it('travels as tensors "w" F32 [4, 3] and "b" F32 [3]', () => {
    const { model } = train(initModel(), split.sites[0]!, { epochs: 5, learningRate: 1 });
    const tensors = toTensors(model);
    expect(Object.keys(tensors)).toEqual(['w', 'b']);
    expect(tensors['w']).toMatchObject({ dtype: 'F32', shape: [4, 3] });
    expect(tensors['b']).toMatchObject({ dtype: 'F32', shape: [3] });
    const back = fromTensors(tensors);
    for (let k = 0; k < 12; k++) expect(back.w[k]).toBeCloseTo(model.w[k]!, 5);
    for (let c = 0; c < 3; c++) expect(back.b[c]).toBeCloseTo(model.b[c]!, 5);
  });
});
