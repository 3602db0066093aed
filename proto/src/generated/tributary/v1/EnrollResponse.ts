// Original file: tributary.proto

import type { Site as _tributary_v1_Site, Site__Output as _tributary_v1_Site__Output } from '../../tributary/v1/Site.js';

export interface EnrollResponse {
  'site'?: (_tributary_v1_Site | null);
}

export interface EnrollResponse__Output {
  'site': (_tributary_v1_Site__Output | null);
}
