// Original file: tributary.proto


export interface SignedEnvelope {
  'kind'?: (string);
  'body'?: (Buffer | Uint8Array | string);
  'signature'?: (Buffer | Uint8Array | string);
  'keyId'?: (string);
}

export interface SignedEnvelope__Output {
  'kind': (string);
  'body': (Buffer);
  'signature': (Buffer);
  'keyId': (string);
}
