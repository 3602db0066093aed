// Original file: tributary.proto


export interface DeleteFederationRequest {
  'name'?: (string);
  'force'?: (boolean);
}

export interface DeleteFederationRequest__Output {
  'name': (string);
  'force': (boolean);
}
