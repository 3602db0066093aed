import { describe, expect, it } from 'vitest';
import { EnsembleModel } from '@tributary/client-sdk';
import { encodeSafetensors, ensembleTensors, isTributaryError, tensor } from '@tributary/proto';
import type { EnsembleCombine, EnsembleMember, EnsembleMemberInput } from '@tributary/proto';
import { caught } from '../helpers/errors.js';

type Rows = number[][];

/** Members a, b, c with weights 0.5, 0.3, 0.2: a tensors model, a custom payload and an ONNX payload. */
function threeMembers(combine?: EnsembleCombine): EnsembleModel {
  const members: EnsembleMemberInput[] = [
    { site: 'site-a', updateId: 'a'.repeat(32), flavor: 'tensors', weight: 5, numExamples: 50, metrics: { acc: 0.9 }, tensors: { w: tensor('F32', [2, 3], new Float32Array(6).fill(1)) } },
    { site: 'site-b', updateId: 'b'.repeat(32), flavor: 'custom:naive-bayes', weight: 3, numExamples: 30, metrics: {}, bytes: new TextEncoder().encode('{"nb":true}') },
    { site: 'site-c', updateId: 'c'.repeat(32), flavor: 'onnx', weight: 2, numExamples: 20, metrics: {}, bytes: Uint8Array.of(1, 2, 3) },
  ];
  const { tensors, metadata } = ensembleTensors(members, combine === undefined ? {} : { combine });
  return EnsembleModel.decode(encodeSafetensors(tensors, metadata));
}

/** Canned per-member outputs for two input rows and three classes. */
const OUTPUTS: Record<string, Rows> = {
  'site-a': [
    [0.7, 0.2, 0.1],
    [0.1, 0.1, 0.8],
  ],
  'site-b': [
    [0.2, 0.7, 0.1],
    [0.3, 0.4, 0.3],
  ],
  'site-c': [
    [0.1, 0.8, 0.1],
    [0.6, 0.2, 0.2],
  ],
};
const canned = (member: EnsembleMember): Rows => OUTPUTS[member.site]!;

function expectRows(actual: Rows, expected: Rows): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((row, r) => row.forEach((v, c) => expect(v, `row ${r} class ${c}`).toBeCloseTo(expected[r]![c]!, 12)));
}

describe('EnsembleModel.decode', () => {
  it('exposes each member with its site, flavor, weight and tensors or bytes', () => {
    const model = threeMembers('vote');
    expect(model.combine).toBe('vote');
    expect(model.members.map((m) => [m.site, m.flavor, m.weight])).toEqual([
      ['site-a', 'tensors', 0.5],
      ['site-b', 'custom:naive-bayes', 0.3],
      ['site-c', 'onnx', 0.2],
    ]);
    expect(model.members[0]?.tensors?.['w']?.shape).toEqual([2, 3]);
    expect(model.members[0]?.bytes).toBeUndefined();
    expect(new TextDecoder().decode(model.members[1]?.bytes)).toBe('{"nb":true}');
    expect(model.members[2]?.bytes).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('refuses a model that is not an ensemble with MALFORMED_PAYLOAD', () => {
    const plain = encodeSafetensors({ w: tensor('F32', [1], new Float32Array(1)) });
    const err = caught(() => EnsembleModel.decode(plain));
    expect(isTributaryError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'MALFORMED_PAYLOAD' });
  });
});

describe('EnsembleModel.predict', () => {
  it('combines by the weighted mean of the members’ probabilities', () => {
    const { classes, scores } = threeMembers().predict(null, canned, { combine: 'mean' });
    // row 0: 0.5*[.7,.2,.1] + 0.3*[.2,.7,.1] + 0.2*[.1,.8,.1]; row 1 likewise.
    expectRows(scores, [
      [0.43, 0.47, 0.1],
      [0.26, 0.21, 0.53],
    ]);
    expect(classes).toEqual([1, 2]);
  });

  it('combines by weighted majority vote of each member’s top class, ties going to the lowest class', () => {
    const { classes, scores } = threeMembers().predict(null, canned, { combine: 'vote' });
    // row 0: a (0.5) votes 0, b (0.3) and c (0.2) vote 1: 0.5 against 0.5, so class 0.
    // row 1: a votes 2, b votes 1, c votes 0.
    expectRows(scores, [
      [0.5, 0.5, 0],
      [0.2, 0.3, 0.5],
    ]);
    expect(classes).toEqual([0, 2]);
  });

  it('counts weight, not heads: the heaviest member beats two lighter ones that disagree', () => {
    const votes: Record<string, Rows> = { 'site-a': [[0, 0, 1]], 'site-b': [[1, 0, 0]], 'site-c': [[0, 1, 0]] };
    const { classes, scores } = threeMembers().predict(null, (m) => votes[m.site]!, { combine: 'vote' });
    expect(scores).toEqual([[0.3, 0.2, 0.5]]);
    expect(classes).toEqual([2]);
  });

  it('treats a member’s own tie as a vote for its lowest class, and sums of float weights as ties', () => {
    const even: Record<string, Rows> = { 'site-a': [[0.5, 0.5]], 'site-b': [[0, 1]], 'site-c': [[0, 1]] };
    const { classes, scores } = threeMembers().predict(null, (m) => even[m.site]!, { combine: 'vote' });
    expect(scores[0]?.[0]).toBe(0.5);
    expect(scores[0]?.[1]).toBeCloseTo(0.5, 15); // 0.3 + 0.2 in binary floating point
    expect(classes).toEqual([0]);
  });

  it('breaks a tie in the mean to the lowest class index', () => {
    const flat: Record<string, Rows> = { 'site-a': [[0.25, 0.25, 0.5]], 'site-b': [[0.5, 0.5, 0]], 'site-c': [[0.5, 0.5, 0]] };
    const { classes } = threeMembers().predict(null, (m) => flat[m.site]!, { combine: 'mean' });
    expect(classes).toEqual([0]);
  });

  it('uses the ensemble’s suggested combination unless told otherwise, and the mean when there is none', () => {
    expect(threeMembers('vote').predict(null, canned).classes).toEqual([0, 2]);
    expect(threeMembers('vote').predict(null, canned, { combine: 'mean' }).classes).toEqual([1, 2]);
    expect(threeMembers().predict(null, canned).classes).toEqual([1, 2]);
  });

  it('passes the inputs to every member and returns nothing for no rows', () => {
    const seen: string[] = [];
    const result = threeMembers().predict('batch-1', (m, inputs) => {
      seen.push(`${m.site}:${inputs}`);
      return [];
    });
    expect(seen).toEqual(['site-a:batch-1', 'site-b:batch-1', 'site-c:batch-1']);
    expect(result).toEqual({ classes: [], scores: [] });
  });

  it('combines asynchronous members the same way', async () => {
    const model = threeMembers();
    const result = await model.predictAsync(null, async (m) => canned(m), { combine: 'vote' });
    expect(result).toEqual(model.predict(null, canned, { combine: 'vote' }));
  });

  it.each([
    ['a different number of rows', { 'site-c': [[1, 0, 0]] }, /site "site-c".* returned 1 rows; the first member returned 2/],
    ['a different number of classes', { 'site-b': [[1, 0], [0, 1]] }, /site "site-b".* row 0 has 2 classes; expected 3/],
    ['a value that is not finite', { 'site-a': [[Number.NaN, 0, 1], [0, 0, 1]] }, /site "site-a".* not a finite number/],
  ])('refuses members that return %s, naming the member', (_what, override, message) => {
    const outputs: Record<string, Rows> = { ...OUTPUTS, ...override };
    const err = caught(() => threeMembers().predict(null, (m) => outputs[m.site]!));
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'INVALID_ARGUMENT' });
    expect((err as Error).message).toMatch(message);
  });

  it('refuses an unknown combination', () => {
    const err = caught(() => threeMembers().predict(null, canned, { combine: 'median' as EnsembleCombine }));
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
