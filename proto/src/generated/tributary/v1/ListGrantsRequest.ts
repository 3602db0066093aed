// Original file: tributary.proto


export interface ListGrantsRequest {
  'principal'?: (string);
  'federation'?: (string);
}

export interface ListGrantsRequest__Output {
  'principal': (string);
  'federation': (string);
}
