// Original file: tributary.proto


export interface GetMetricHistoryRequest {
  'federation'?: (string);
  'runId'?: (string);
  'key'?: (string);
  'maxPoints'?: (number);
}

export interface GetMetricHistoryRequest__Output {
  'federation': (string);
  'runId': (string);
  'key': (string);
  'maxPoints': (number);
}
