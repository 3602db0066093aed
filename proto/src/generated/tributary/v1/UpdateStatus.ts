// Original file: tributary.proto

import type { UpdateState as _tributary_v1_UpdateState, UpdateState__Output as _tributary_v1_UpdateState__Output } from '../../tributary/v1/UpdateState.js';

export interface UpdateStatus {
  'updateId'?: (string);
  'state'?: (_tributary_v1_UpdateState);
  'reason'?: (string);
  'message'?: (string);
  'federation'?: (string);
  'runId'?: (string);
  'round'?: (number);
  'site'?: (string);
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
}
