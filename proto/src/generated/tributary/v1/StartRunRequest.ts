// Original file: tributary.proto


export interface StartRunRequest {
  'federation'?: (string);
  'rounds'?: (number);
}

export interface StartRunRequest__Output {
  'federation': (string);
  'rounds': (number);
}
