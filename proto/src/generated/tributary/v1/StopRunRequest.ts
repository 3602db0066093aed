// Original file: tributary.proto


export interface StopRunRequest {
  'runId'?: (string);
  'reason'?: (string);
}

export interface StopRunRequest__Output {
  'runId': (string);
  'reason': (string);
}
