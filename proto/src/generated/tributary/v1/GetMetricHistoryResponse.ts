// Original file: tributary.proto

import type { MetricSeries as _tributary_v1_MetricSeries, MetricSeries__Output as _tributary_v1_MetricSeries__Output } from '../../tributary/v1/MetricSeries.js';

export interface GetMetricHistoryResponse {
  'runId'?: (string);
  'key'?: (string);
  'series'?: (_tributary_v1_MetricSeries)[];
}

export interface GetMetricHistoryResponse__Output {
  'runId': (string);
  'key': (string);
  'series': (_tributary_v1_MetricSeries__Output)[];
}
