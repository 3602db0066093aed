// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface Refusal {
  'site'?: (string);
  'updateId'?: (string);
  'reason'?: (string);
  'message'?: (string);
  'atMs'?: (number | string | Long);
  'count'?: (number);
}

export interface Refusal__Output {
  'site': (string);
  'updateId': (string);
  'reason': (string);
  'message': (string);
  'atMs': (number);
  'count': (number);
}
