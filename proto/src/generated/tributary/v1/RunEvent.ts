// Original file: tributary.proto

import type { Run as _tributary_v1_Run, Run__Output as _tributary_v1_Run__Output } from '../../tributary/v1/Run.js';
import type { Round as _tributary_v1_Round, Round__Output as _tributary_v1_Round__Output } from '../../tributary/v1/Round.js';
import type { UpdateSummary as _tributary_v1_UpdateSummary, UpdateSummary__Output as _tributary_v1_UpdateSummary__Output } from '../../tributary/v1/UpdateSummary.js';
import type { Refusal as _tributary_v1_Refusal, Refusal__Output as _tributary_v1_Refusal__Output } from '../../tributary/v1/Refusal.js';
import type { Long } from '@grpc/proto-loader';

export interface RunEvent {
  'type'?: (string);
  'atMs'?: (number | string | Long);
  'run'?: (_tributary_v1_Run | null);
  'round'?: (_tributary_v1_Round | null);
  'update'?: (_tributary_v1_UpdateSummary | null);
  'refusal'?: (_tributary_v1_Refusal | null);
}

export interface RunEvent__Output {
  'type': (string);
  'atMs': (number);
  'run': (_tributary_v1_Run__Output | null);
  'round': (_tributary_v1_Round__Output | null);
  'update': (_tributary_v1_UpdateSummary__Output | null);
  'refusal': (_tributary_v1_Refusal__Output | null);
}
