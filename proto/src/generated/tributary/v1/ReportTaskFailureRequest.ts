// Original file: tributary.proto


export interface ReportTaskFailureRequest {
  'federation'?: (string);
  'runId'?: (string);
  'round'?: (number);
  'message'?: (string);
  'taskKind'?: (string);
}

export interface ReportTaskFailureRequest__Output {
  'federation': (string);
  'runId': (string);
  'round': (number);
  'message': (string);
  'taskKind': (string);
}
