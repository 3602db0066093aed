// Original file: tributary.proto


export interface ListModelVersionsRequest {
  'federation'?: (string);
}

export interface ListModelVersionsRequest__Output {
  'federation': (string);
}
