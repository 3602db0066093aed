// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface NatsCredentials {
  'jwt'?: (string);
  'expiresAtMs'?: (number | string | Long);
  'inboxPrefix'?: (string);
  'federations'?: (string)[];
}

export interface NatsCredentials__Output {
  'jwt': (string);
  'expiresAtMs': (number);
  'inboxPrefix': (string);
  'federations': (string)[];
}
