// Original file: tributary.proto

import type { Round as _tributary_v1_Round, Round__Output as _tributary_v1_Round__Output } from '../../tributary/v1/Round.js';

export interface ListRoundsResponse {
  'rounds'?: (_tributary_v1_Round)[];
}

export interface ListRoundsResponse__Output {
  'rounds': (_tributary_v1_Round__Output)[];
}
