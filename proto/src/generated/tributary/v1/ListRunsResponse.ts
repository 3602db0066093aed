// Original file: tributary.proto

import type { Run as _tributary_v1_Run, Run__Output as _tributary_v1_Run__Output } from '../../tributary/v1/Run.js';

export interface ListRunsResponse {
  'runs'?: (_tributary_v1_Run)[];
}

export interface ListRunsResponse__Output {
  'runs': (_tributary_v1_Run__Output)[];
}
