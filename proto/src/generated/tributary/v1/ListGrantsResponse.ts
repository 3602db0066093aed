// Original file: tributary.proto

import type { Grant as _tributary_v1_Grant, Grant__Output as _tributary_v1_Grant__Output } from '../../tributary/v1/Grant.js';

export interface ListGrantsResponse {
  'grants'?: (_tributary_v1_Grant)[];
}

export interface ListGrantsResponse__Output {
  'grants': (_tributary_v1_Grant__Output)[];
}
