// Original file: tributary.proto

import type { Site as _tributary_v1_Site, Site__Output as _tributary_v1_Site__Output } from '../../tributary/v1/Site.js';

export interface ListSitesResponse {
  'sites'?: (_tributary_v1_Site)[];
}

export interface ListSitesResponse__Output {
  'sites': (_tributary_v1_Site__Output)[];
}
