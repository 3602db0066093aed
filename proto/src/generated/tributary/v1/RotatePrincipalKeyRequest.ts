// Original file: tributary.proto


export interface RotatePrincipalKeyRequest {
  'name'?: (string);
  'publicKey'?: (Buffer | Uint8Array | string);
}

export interface RotatePrincipalKeyRequest__Output {
  'name': (string);
  'publicKey': (Buffer);
}
