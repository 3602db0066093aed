// Original file: tributary.proto

import type { UpdateState as _tributary_v1_UpdateState, UpdateState__Output as _tributary_v1_UpdateState__Output } from '../../tributary/v1/UpdateState.js';
import type { Long } from '@grpc/proto-loader';

export interface UpdateStatus {
  'updateId'?: (string);
  'state'?: (_tributary_v1_UpdateState);
  'reason'?: (string);
  'message'?: (string);
  'federation'?: (string);
  'runId'?: (string);
  'round'?: (number);
  'site'?: (string);
  'payloadSha256'?: (string);
  'payloadSize'?: (number | string | Long);
}

export interface UpdateStatus__Output {
  'updateId': (string);
  'state': (_tributary_v1_UpdateState__Output);
  'reason': (string);
  'message': (string);
  'federation': (string);
  'runId': (string);
  'round': (number);
  'site': (string);
  'payloadSha256': (string);
  'payloadSize': (number);
}
