// Original file: tributary.proto


export interface ListRunsRequest {
  'federation'?: (string);
}

export interface ListRunsRequest__Output {
  'federation': (string);
}
