// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface SiteFailure {
  'site'?: (string);
  'reason'?: (string);
  'message'?: (string);
  'atMs'?: (number | string | Long);
}

export interface SiteFailure__Output {
  'site': (string);
  'reason': (string);
  'message': (string);
  'atMs': (number);
}
