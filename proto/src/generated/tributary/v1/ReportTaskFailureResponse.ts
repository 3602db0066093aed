// Original file: tributary.proto

import type { SiteFailure as _tributary_v1_SiteFailure, SiteFailure__Output as _tributary_v1_SiteFailure__Output } from '../../tributary/v1/SiteFailure.js';

export interface ReportTaskFailureResponse {
  'failure'?: (_tributary_v1_SiteFailure | null);
}

export interface ReportTaskFailureResponse__Output {
  'failure': (_tributary_v1_SiteFailure__Output | null);
}
