// Original file: tributary.proto

import type { ModelVersion as _tributary_v1_ModelVersion, ModelVersion__Output as _tributary_v1_ModelVersion__Output } from '../../tributary/v1/ModelVersion.js';

export interface ListModelVersionsResponse {
  'versions'?: (_tributary_v1_ModelVersion)[];
}

export interface ListModelVersionsResponse__Output {
  'versions': (_tributary_v1_ModelVersion__Output)[];
}
