// Original file: tributary.proto


export interface GetUpdateStatusRequest {
  'federation'?: (string);
  'updateId'?: (string);
}

export interface GetUpdateStatusRequest__Output {
  'federation': (string);
  'updateId': (string);
}
