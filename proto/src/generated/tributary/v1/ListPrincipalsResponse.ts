// Original file: tributary.proto

import type { Principal as _tributary_v1_Principal, Principal__Output as _tributary_v1_Principal__Output } from '../../tributary/v1/Principal.js';

export interface ListPrincipalsResponse {
  'principals'?: (_tributary_v1_Principal)[];
}

export interface ListPrincipalsResponse__Output {
  'principals': (_tributary_v1_Principal__Output)[];
}
