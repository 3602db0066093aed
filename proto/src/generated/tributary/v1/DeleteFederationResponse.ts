// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface DeleteFederationResponse {
  'name'?: (string);
  'deletedAtMs'?: (number | string | Long);
  'stoppedRunId'?: (string);
  'formerSites'?: (string)[];
}

export interface DeleteFederationResponse__Output {
  'name': (string);
  'deletedAtMs': (number);
  'stoppedRunId': (string);
  'formerSites': (string)[];
}
