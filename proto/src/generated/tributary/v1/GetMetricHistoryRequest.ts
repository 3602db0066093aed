// Original file: tributary.proto


export interface GetMetricHistoryRequest {
  'federation'?: (string);
  'runId'?: (string);
  'key'?: (string);
}

export interface GetMetricHistoryRequest__Output {
  'federation': (string);
  'runId': (string);
  'key': (string);
}
