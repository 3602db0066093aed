// Original file: tributary.proto


export interface StartRunRequest {
  'federation'?: (string);
  'rounds'?: (number);
  'requestId'?: (string);
}

export interface StartRunRequest__Output {
  'federation': (string);
  'rounds': (number);
  'requestId': (string);
}
