// Original file: tributary.proto


export interface IssueSiteNatsCredentialsRequest {
  'site'?: (string);
  'userPublicKey'?: (string);
  'ttlSeconds'?: (number);
}

export interface IssueSiteNatsCredentialsRequest__Output {
  'site': (string);
  'userPublicKey': (string);
  'ttlSeconds': (number);
}
