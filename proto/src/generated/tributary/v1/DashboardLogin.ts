// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface DashboardLogin {
  'token'?: (string);
  'expiresAtMs'?: (number | string | Long);
  'httpPort'?: (number);
  'loginPath'?: (string);
  'https'?: (boolean);
}

export interface DashboardLogin__Output {
  'token': (string);
  'expiresAtMs': (number);
  'httpPort': (number);
  'loginPath': (string);
  'https': (boolean);
}
