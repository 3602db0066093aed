// Original file: tributary.proto

import type { TrackedRun as _tributary_v1_TrackedRun, TrackedRun__Output as _tributary_v1_TrackedRun__Output } from '../../tributary/v1/TrackedRun.js';

export interface SearchRunsResponse {
  'runs'?: (_tributary_v1_TrackedRun)[];
  'nextPageToken'?: (string);
}

export interface SearchRunsResponse__Output {
  'runs': (_tributary_v1_TrackedRun__Output)[];
  'nextPageToken': (string);
}
