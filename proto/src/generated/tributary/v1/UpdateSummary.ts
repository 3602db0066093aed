// Original file: tributary.proto

import type { DatasetDescriptor as _tributary_v1_DatasetDescriptor, DatasetDescriptor__Output as _tributary_v1_DatasetDescriptor__Output } from '../../tributary/v1/DatasetDescriptor.js';
import type { Long } from '@grpc/proto-loader';

export interface UpdateSummary {
  'site'?: (string);
  'updateId'?: (string);
  'numExamples'?: (number | string | Long);
  'payloadSha256'?: (string);
  'payloadSize'?: (number | string | Long);
  'metrics'?: ({[key: string]: number | string});
  'acceptedAtMs'?: (number | string | Long);
  'flavor'?: (string);
  'datasets'?: (_tributary_v1_DatasetDescriptor)[];
  'context'?: ({[key: string]: string});
}

export interface UpdateSummary__Output {
  'site': (string);
  'updateId': (string);
  'numExamples': (number);
  'payloadSha256': (string);
  'payloadSize': (number);
  'metrics': ({[key: string]: number});
  'acceptedAtMs': (number);
  'flavor': (string);
  'datasets': (_tributary_v1_DatasetDescriptor__Output)[];
  'context': ({[key: string]: string});
}
