// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface MetricPoint {
  'key'?: (string);
  'value'?: (number | string);
  'timestampMs'?: (number | string | Long);
  'step'?: (number | string | Long);
}

export interface MetricPoint__Output {
  'key': (string);
  'value': (number);
  'timestampMs': (number);
  'step': (number);
}
