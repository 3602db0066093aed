// Original file: tributary.proto


export interface CreateInvitationRequest {
  'federations'?: (string)[];
  'siteName'?: (string);
  'ttlSeconds'?: (number);
}

export interface CreateInvitationRequest__Output {
  'federations': (string)[];
  'siteName': (string);
  'ttlSeconds': (number);
}
