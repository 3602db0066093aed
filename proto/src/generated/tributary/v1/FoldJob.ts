// Original file: tributary.proto

import type { TensorSpec as _tributary_v1_TensorSpec, TensorSpec__Output as _tributary_v1_TensorSpec__Output } from '../../tributary/v1/TensorSpec.js';
import type { Long } from '@grpc/proto-loader';

export interface FoldJob {
  'epoch'?: (string);
  'federation'?: (string);
  'runId'?: (string);
  'round'?: (number);
  'site'?: (string);
  'updateId'?: (string);
  'payloadSubject'?: (string);
  'chunkCount'?: (number);
  'chunkSize'?: (number);
  'payloadSize'?: (number | string | Long);
  'payloadSha256'?: (string);
  'manifestSha256'?: (string);
  'modelSpec'?: (_tributary_v1_TensorSpec)[];
  'numExamples'?: (number | string | Long);
  'issuedAtMs'?: (number | string | Long);
  'deadlineAtMs'?: (number | string | Long);
  'baseVersion'?: (number);
  'normBound'?: (number | string);
  'normMode'?: (string);
}

export interface FoldJob__Output {
  'epoch': (string);
  'federation': (string);
  'runId': (string);
  'round': (number);
  'site': (string);
  'updateId': (string);
  'payloadSubject': (string);
  'chunkCount': (number);
  'chunkSize': (number);
  'payloadSize': (number);
  'payloadSha256': (string);
  'manifestSha256': (string);
  'modelSpec': (_tributary_v1_TensorSpec__Output)[];
  'numExamples': (number);
  'issuedAtMs': (number);
  'deadlineAtMs': (number);
  'baseVersion': (number);
  'normBound': (number);
  'normMode': (string);
}
