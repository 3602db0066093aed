// Original file: tributary.proto


export interface GetFederationRequest {
  'name'?: (string);
}

export interface GetFederationRequest__Output {
  'name': (string);
}
