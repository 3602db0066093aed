// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface ListAuditEntriesRequest {
  'sinceMs'?: (number | string | Long);
  'principal'?: (string);
  'federation'?: (string);
  'limit'?: (number);
}

export interface ListAuditEntriesRequest__Output {
  'sinceMs': (number);
  'principal': (string);
  'federation': (string);
  'limit': (number);
}
