// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface Invitation {
  'token'?: (string);
  'federations'?: (string)[];
  'siteName'?: (string);
  'expiresAtMs'?: (number | string | Long);
  'mintedBy'?: (string);
  'id'?: (string);
  'createdAtMs'?: (number | string | Long);
}

export interface Invitation__Output {
  'token': (string);
  'federations': (string)[];
  'siteName': (string);
  'expiresAtMs': (number);
  'mintedBy': (string);
  'id': (string);
  'createdAtMs': (number);
}
