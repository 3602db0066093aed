// Original file: tributary.proto


export interface EnrollRequest {
  'invitationToken'?: (string);
  'siteName'?: (string);
  'publicKey'?: (Buffer | Uint8Array | string);
}

export interface EnrollRequest__Output {
  'invitationToken': (string);
  'siteName': (string);
  'publicKey': (Buffer);
}
