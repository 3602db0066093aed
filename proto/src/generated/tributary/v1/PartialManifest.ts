// Original file: tributary.proto

import type { TensorSpec as _tributary_v1_TensorSpec, TensorSpec__Output as _tributary_v1_TensorSpec__Output } from '../../tributary/v1/TensorSpec.js';
import type { Long } from '@grpc/proto-loader';

export interface PartialManifest {
  'worker'?: (string);
  'epoch'?: (string);
  'runId'?: (string);
  'round'?: (number);
  'updateIds'?: (string)[];
  'totalWeight'?: (number | string | Long);
  'payloadSubject'?: (string);
  'chunkCount'?: (number);
  'chunkSize'?: (number);
  'payloadSize'?: (number | string | Long);
  'payloadSha256'?: (string);
  'tensors'?: (_tributary_v1_TensorSpec)[];
}

export interface PartialManifest__Output {
  'worker': (string);
  'epoch': (string);
  'runId': (string);
  'round': (number);
  'updateIds': (string)[];
  'totalWeight': (number);
  'payloadSubject': (string);
  'chunkCount': (number);
  'chunkSize': (number);
  'payloadSize': (number);
  'payloadSha256': (string);
  'tensors': (_tributary_v1_TensorSpec__Output)[];
}
