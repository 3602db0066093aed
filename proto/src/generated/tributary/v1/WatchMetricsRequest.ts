// Original file: tributary.proto


export interface WatchMetricsRequest {
  'federation'?: (string);
  'runId'?: (string);
  'keys'?: (string)[];
}

export interface WatchMetricsRequest__Output {
  'federation': (string);
  'runId': (string);
  'keys': (string)[];
}
