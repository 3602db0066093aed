// Original file: tributary.proto

import type { MetricPoint as _tributary_v1_MetricPoint, MetricPoint__Output as _tributary_v1_MetricPoint__Output } from '../../tributary/v1/MetricPoint.js';
import type { Long } from '@grpc/proto-loader';

export interface MetricBatch {
  'federation'?: (string);
  'runId'?: (string);
  'round'?: (number);
  'site'?: (string);
  'batchId'?: (string);
  'createdAtMs'?: (number | string | Long);
  'points'?: (_tributary_v1_MetricPoint)[];
}

export interface MetricBatch__Output {
  'federation': (string);
  'runId': (string);
  'round': (number);
  'site': (string);
  'batchId': (string);
  'createdAtMs': (number);
  'points': (_tributary_v1_MetricPoint__Output)[];
}
