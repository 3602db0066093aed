// Original file: tributary.proto

import type { FederationSettings as _tributary_v1_FederationSettings, FederationSettings__Output as _tributary_v1_FederationSettings__Output } from '../../tributary/v1/FederationSettings.js';

export interface CreateFederationRequest {
  'name'?: (string);
  'description'?: (string);
  'settings'?: (_tributary_v1_FederationSettings | null);
  'initialModel'?: (Buffer | Uint8Array | string);
}

export interface CreateFederationRequest__Output {
  'name': (string);
  'description': (string);
  'settings': (_tributary_v1_FederationSettings__Output | null);
  'initialModel': (Buffer);
}
