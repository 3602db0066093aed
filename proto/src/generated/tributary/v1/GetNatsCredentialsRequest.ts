// Original file: tributary.proto


export interface GetNatsCredentialsRequest {
  'userPublicKey'?: (string);
}

export interface GetNatsCredentialsRequest__Output {
  'userPublicKey': (string);
}
