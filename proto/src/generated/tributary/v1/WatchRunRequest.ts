// Original file: tributary.proto

import type { RunEventDetail as _tributary_v1_RunEventDetail, RunEventDetail__Output as _tributary_v1_RunEventDetail__Output } from '../../tributary/v1/RunEventDetail.js';

export interface WatchRunRequest {
  'runId'?: (string);
  'detail'?: (_tributary_v1_RunEventDetail);
}

export interface WatchRunRequest__Output {
  'runId': (string);
  'detail': (_tributary_v1_RunEventDetail__Output);
}
