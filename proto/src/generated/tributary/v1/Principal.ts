// Original file: tributary.proto

import type { PrincipalStatus as _tributary_v1_PrincipalStatus, PrincipalStatus__Output as _tributary_v1_PrincipalStatus__Output } from '../../tributary/v1/PrincipalStatus.js';
import type { Long } from '@grpc/proto-loader';

export interface Principal {
  'name'?: (string);
  'keyId'?: (string);
  'publicKey'?: (Buffer | Uint8Array | string);
  'groups'?: (string)[];
  'status'?: (_tributary_v1_PrincipalStatus);
  'owner'?: (boolean);
  'description'?: (string);
  'createdAtMs'?: (number | string | Long);
  'disabledAtMs'?: (number | string | Long);
  'rotatedAtMs'?: (number | string | Long);
  'addedBy'?: (string);
}

export interface Principal__Output {
  'name': (string);
  'keyId': (string);
  'publicKey': (Buffer);
  'groups': (string)[];
  'status': (_tributary_v1_PrincipalStatus__Output);
  'owner': (boolean);
  'description': (string);
  'createdAtMs': (number);
  'disabledAtMs': (number);
  'rotatedAtMs': (number);
  'addedBy': (string);
}
