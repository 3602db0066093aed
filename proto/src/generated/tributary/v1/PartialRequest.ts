// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface PartialRequest {
  'epoch'?: (string);
  'runId'?: (string);
  'round'?: (number);
  'abandon'?: (boolean);
  'issuedAtMs'?: (number | string | Long);
}

export interface PartialRequest__Output {
  'epoch': (string);
  'runId': (string);
  'round': (number);
  'abandon': (boolean);
  'issuedAtMs': (number);
}
