// Original file: tributary.proto


export interface ListRoundsRequest {
  'runId'?: (string);
}

export interface ListRoundsRequest__Output {
  'runId': (string);
}
