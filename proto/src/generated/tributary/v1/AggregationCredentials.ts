// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface AggregationCredentials {
  'jwt'?: (string);
  'expiresAtMs'?: (number | string | Long);
  'inboxPrefix'?: (string);
  'worker'?: (string);
  'coordinatorPublicKey'?: (Buffer | Uint8Array | string);
  'jobSubject'?: (string);
  'queueGroup'?: (string);
  'collectSubject'?: (string);
  'natsUrls'?: (string)[];
}

export interface AggregationCredentials__Output {
  'jwt': (string);
  'expiresAtMs': (number);
  'inboxPrefix': (string);
  'worker': (string);
  'coordinatorPublicKey': (Buffer);
  'jobSubject': (string);
  'queueGroup': (string);
  'collectSubject': (string);
  'natsUrls': (string)[];
}
