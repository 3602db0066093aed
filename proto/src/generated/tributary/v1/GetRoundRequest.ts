// Original file: tributary.proto


export interface GetRoundRequest {
  'runId'?: (string);
  'number'?: (number);
}

export interface GetRoundRequest__Output {
  'runId': (string);
  'number': (number);
}
