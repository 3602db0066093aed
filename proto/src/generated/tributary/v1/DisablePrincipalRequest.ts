// Original file: tributary.proto


export interface DisablePrincipalRequest {
  'name'?: (string);
}

export interface DisablePrincipalRequest__Output {
  'name': (string);
}
