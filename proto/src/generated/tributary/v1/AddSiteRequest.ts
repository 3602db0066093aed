// Original file: tributary.proto


export interface AddSiteRequest {
  'name'?: (string);
  'publicKey'?: (Buffer | Uint8Array | string);
  'federations'?: (string)[];
}

export interface AddSiteRequest__Output {
  'name': (string);
  'publicKey': (Buffer);
  'federations': (string)[];
}
