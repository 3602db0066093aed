// Original file: tributary.proto

import type { TensorSpec as _tributary_v1_TensorSpec, TensorSpec__Output as _tributary_v1_TensorSpec__Output } from '../../tributary/v1/TensorSpec.js';
import type { DatasetDescriptor as _tributary_v1_DatasetDescriptor, DatasetDescriptor__Output as _tributary_v1_DatasetDescriptor__Output } from '../../tributary/v1/DatasetDescriptor.js';
import type { Long } from '@grpc/proto-loader';

export interface UpdateManifest {
  'federation'?: (string);
  'runId'?: (string);
  'round'?: (number);
  'site'?: (string);
  'updateId'?: (string);
  'createdAtMs'?: (number | string | Long);
  'numExamples'?: (number | string | Long);
  'metrics'?: ({[key: string]: number | string});
  'payloadSize'?: (number | string | Long);
  'payloadSha256'?: (string);
  'chunkCount'?: (number);
  'chunkSize'?: (number);
  'tensors'?: (_tributary_v1_TensorSpec)[];
  'flavor'?: (string);
  'baseVersion'?: (number | string | Long);
  'taskKind'?: (string);
  'datasets'?: (_tributary_v1_DatasetDescriptor)[];
  'context'?: ({[key: string]: string});
}

export interface UpdateManifest__Output {
  'federation': (string);
  'runId': (string);
  'round': (number);
  'site': (string);
  'updateId': (string);
  'createdAtMs': (number);
  'numExamples': (number);
  'metrics': ({[key: string]: number});
  'payloadSize': (number);
  'payloadSha256': (string);
  'chunkCount': (number);
  'chunkSize': (number);
  'tensors': (_tributary_v1_TensorSpec__Output)[];
  'flavor': (string);
  'baseVersion': (number);
  'taskKind': (string);
  'datasets': (_tributary_v1_DatasetDescriptor__Output)[];
  'context': ({[key: string]: string});
}
