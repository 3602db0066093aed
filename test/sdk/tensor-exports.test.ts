import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, fromFloat64, tensor, toFloat64, type TensorMap } from '@tributary/client-sdk';

describe('@tributary/client-sdk tensor helpers', () => {
  it('builds, encodes and decodes a model without importing @tributary/proto', () => {
    const model: TensorMap = { w: fromFloat64('F32', [2], Float64Array.from([0.5, -1])), b: tensor('I64', [1], new BigInt64Array([3n])) };
    const back = decodeSafetensors(encodeSafetensors(model)).tensors;
    expect([...toFloat64(back['w']!)]).toEqual([0.5, -1]);
    expect([...toFloat64(back['b']!)]).toEqual([3]);
  });
});
