// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface Grant {
  'privilege'?: (string);
  'resource'?: (string);
  'grantee'?: (string);
  'grantedBy'?: (string);
  'grantedAtMs'?: (number | string | Long);
}

export interface Grant__Output {
  'privilege': (string);
  'resource': (string);
  'grantee': (string);
  'grantedBy': (string);
  'grantedAtMs': (number);
}
