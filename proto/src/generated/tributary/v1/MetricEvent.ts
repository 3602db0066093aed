// Original file: tributary.proto

import type { MetricPoint as _tributary_v1_MetricPoint, MetricPoint__Output as _tributary_v1_MetricPoint__Output } from '../../tributary/v1/MetricPoint.js';
import type { Long } from '@grpc/proto-loader';

export interface MetricEvent {
  'federation'?: (string);
  'runId'?: (string);
  'round'?: (number);
  'site'?: (string);
  'points'?: (_tributary_v1_MetricPoint)[];
  'storedAtMs'?: (number | string | Long);
}

export interface MetricEvent__Output {
  'federation': (string);
  'runId': (string);
  'round': (number);
  'site': (string);
  'points': (_tributary_v1_MetricPoint__Output)[];
  'storedAtMs': (number);
}
