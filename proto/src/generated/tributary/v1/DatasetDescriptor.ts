// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface DatasetDescriptor {
  'name'?: (string);
  'digest'?: (string);
  'schema'?: (string);
  'rows'?: (number | string | Long);
  'source'?: (string);
  'context'?: (string);
}

export interface DatasetDescriptor__Output {
  'name': (string);
  'digest': (string);
  'schema': (string);
  'rows': (number);
  'source': (string);
  'context': (string);
}
