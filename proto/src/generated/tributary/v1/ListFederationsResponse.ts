// Original file: tributary.proto

import type { Federation as _tributary_v1_Federation, Federation__Output as _tributary_v1_Federation__Output } from '../../tributary/v1/Federation.js';

export interface ListFederationsResponse {
  'federations'?: (_tributary_v1_Federation)[];
}

export interface ListFederationsResponse__Output {
  'federations': (_tributary_v1_Federation__Output)[];
}
