// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface HeartbeatRequest {
  'federation'?: (string);
  'runId'?: (string);
  'round'?: (number);
  'phase'?: (string);
  'uploadBytes'?: (number | string | Long);
}

export interface HeartbeatRequest__Output {
  'federation': (string);
  'runId': (string);
  'round': (number);
  'phase': (string);
  'uploadBytes': (number);
}
