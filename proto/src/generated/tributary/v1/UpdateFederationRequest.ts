// Original file: tributary.proto

import type { FederationSettings as _tributary_v1_FederationSettings, FederationSettings__Output as _tributary_v1_FederationSettings__Output } from '../../tributary/v1/FederationSettings.js';

export interface UpdateFederationRequest {
  'name'?: (string);
  'description'?: (string);
  'settings'?: (_tributary_v1_FederationSettings | null);
  'updateMask'?: (string)[];
}

export interface UpdateFederationRequest__Output {
  'name': (string);
  'description': (string);
  'settings': (_tributary_v1_FederationSettings__Output | null);
  'updateMask': (string)[];
}
