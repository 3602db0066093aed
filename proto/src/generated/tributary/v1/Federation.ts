// Original file: tributary.proto

import type { FederationSettings as _tributary_v1_FederationSettings, FederationSettings__Output as _tributary_v1_FederationSettings__Output } from '../../tributary/v1/FederationSettings.js';
import type { ModelSpec as _tributary_v1_ModelSpec, ModelSpec__Output as _tributary_v1_ModelSpec__Output } from '../../tributary/v1/ModelSpec.js';
import type { Long } from '@grpc/proto-loader';

export interface Federation {
  'name'?: (string);
  'description'?: (string);
  'settings'?: (_tributary_v1_FederationSettings | null);
  'modelSpec'?: (_tributary_v1_ModelSpec | null);
  'sites'?: (string)[];
  'createdAtMs'?: (number | string | Long);
  'latestVersion'?: (number | string | Long);
  'revokedSites'?: (string)[];
}

export interface Federation__Output {
  'name': (string);
  'description': (string);
  'settings': (_tributary_v1_FederationSettings__Output | null);
  'modelSpec': (_tributary_v1_ModelSpec__Output | null);
  'sites': (string)[];
  'createdAtMs': (number);
  'latestVersion': (number);
  'revokedSites': (string)[];
}
