// Original file: tributary.proto

import type { TensorSpec as _tributary_v1_TensorSpec, TensorSpec__Output as _tributary_v1_TensorSpec__Output } from '../../tributary/v1/TensorSpec.js';

export interface ModelSpec {
  'tensors'?: (_tributary_v1_TensorSpec)[];
}

export interface ModelSpec__Output {
  'tensors': (_tributary_v1_TensorSpec__Output)[];
}
