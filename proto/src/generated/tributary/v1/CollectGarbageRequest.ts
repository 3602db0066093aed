// Original file: tributary.proto


export interface CollectGarbageRequest {
  'federation'?: (string);
}

export interface CollectGarbageRequest__Output {
  'federation': (string);
}
