// Original file: tributary.proto

import type { MetricPoint as _tributary_v1_MetricPoint, MetricPoint__Output as _tributary_v1_MetricPoint__Output } from '../../tributary/v1/MetricPoint.js';

export interface MetricSeries {
  'site'?: (string);
  'points'?: (_tributary_v1_MetricPoint)[];
}

export interface MetricSeries__Output {
  'site': (string);
  'points': (_tributary_v1_MetricPoint__Output)[];
}
