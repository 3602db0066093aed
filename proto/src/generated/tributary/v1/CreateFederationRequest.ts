// Original file: tributary.proto

import type { FederationSettings as _tributary_v1_FederationSettings, FederationSettings__Output as _tributary_v1_FederationSettings__Output } from '../../tributary/v1/FederationSettings.js';
import type { Long } from '@grpc/proto-loader';

export interface CreateFederationRequest {
  'name'?: (string);
  'description'?: (string);
  'settings'?: (_tributary_v1_FederationSettings | null);
  'initialModelSize'?: (number | string | Long);
  'initialModelSha256'?: (string);
}

export interface CreateFederationRequest__Output {
  'name': (string);
  'description': (string);
  'settings': (_tributary_v1_FederationSettings__Output | null);
  'initialModelSize': (number);
  'initialModelSha256': (string);
}
