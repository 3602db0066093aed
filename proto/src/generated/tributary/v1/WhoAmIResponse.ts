// Original file: tributary.proto

import type { Site as _tributary_v1_Site, Site__Output as _tributary_v1_Site__Output } from '../../tributary/v1/Site.js';

export interface WhoAmIResponse {
  'role'?: (string);
  'keyId'?: (string);
  'site'?: (_tributary_v1_Site | null);
  'coordinatorKey'?: (Buffer | Uint8Array | string);
  'coordinatorKeyId'?: (string);
  'natsCredentialsRequired'?: (boolean);
}

export interface WhoAmIResponse__Output {
  'role': (string);
  'keyId': (string);
  'site': (_tributary_v1_Site__Output | null);
  'coordinatorKey': (Buffer);
  'coordinatorKeyId': (string);
  'natsCredentialsRequired': (boolean);
}
