// Original file: tributary.proto


export interface AddPrincipalRequest {
  'name'?: (string);
  'publicKey'?: (Buffer | Uint8Array | string);
  'groups'?: (string)[];
  'description'?: (string);
}

export interface AddPrincipalRequest__Output {
  'name': (string);
  'publicKey': (Buffer);
  'groups': (string)[];
  'description': (string);
}
