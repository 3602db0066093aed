// Original file: tributary.proto

import type { SiteStatus as _tributary_v1_SiteStatus, SiteStatus__Output as _tributary_v1_SiteStatus__Output } from '../../tributary/v1/SiteStatus.js';
import type { Long } from '@grpc/proto-loader';

export interface Site {
  'name'?: (string);
  'keyId'?: (string);
  'publicKey'?: (Buffer | Uint8Array | string);
  'status'?: (_tributary_v1_SiteStatus);
  'federations'?: (string)[];
  'createdAtMs'?: (number | string | Long);
  'revokedAtMs'?: (number | string | Long);
  'lastSeenAtMs'?: (number | string | Long);
  'connected'?: (boolean);
  'removedAtMs'?: (number | string | Long);
  'removedBy'?: (string);
  'restoredAtMs'?: (number | string | Long);
  'restoredBy'?: (string);
  'removedFrom'?: (string)[];
}

export interface Site__Output {
  'name': (string);
  'keyId': (string);
  'publicKey': (Buffer);
  'status': (_tributary_v1_SiteStatus__Output);
  'federations': (string)[];
  'createdAtMs': (number);
  'revokedAtMs': (number);
  'lastSeenAtMs': (number);
  'connected': (boolean);
  'removedAtMs': (number);
  'removedBy': (string);
  'restoredAtMs': (number);
  'restoredBy': (string);
  'removedFrom': (string)[];
}
