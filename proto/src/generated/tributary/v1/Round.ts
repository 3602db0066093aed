// Original file: tributary.proto

import type { RoundState as _tributary_v1_RoundState, RoundState__Output as _tributary_v1_RoundState__Output } from '../../tributary/v1/RoundState.js';
import type { UpdateSummary as _tributary_v1_UpdateSummary, UpdateSummary__Output as _tributary_v1_UpdateSummary__Output } from '../../tributary/v1/UpdateSummary.js';
import type { Refusal as _tributary_v1_Refusal, Refusal__Output as _tributary_v1_Refusal__Output } from '../../tributary/v1/Refusal.js';
import type { EvaluationState as _tributary_v1_EvaluationState, EvaluationState__Output as _tributary_v1_EvaluationState__Output } from '../../tributary/v1/EvaluationState.js';
import type { SiteFailure as _tributary_v1_SiteFailure, SiteFailure__Output as _tributary_v1_SiteFailure__Output } from '../../tributary/v1/SiteFailure.js';
import type { Long } from '@grpc/proto-loader';

export interface Round {
  'federation'?: (string);
  'runId'?: (string);
  'number'?: (number);
  'state'?: (_tributary_v1_RoundState);
  'selectedSites'?: (string)[];
  'accepted'?: (_tributary_v1_UpdateSummary)[];
  'refused'?: (_tributary_v1_Refusal)[];
  'openedAtMs'?: (number | string | Long);
  'deadlineAtMs'?: (number | string | Long);
  'closedAtMs'?: (number | string | Long);
  'failureReason'?: (string);
  'baseVersion'?: (number | string | Long);
  'committedVersion'?: (number | string | Long);
  'metrics'?: ({[key: string]: number | string});
  'bytesReceived'?: (number | string | Long);
  'config'?: ({[key: string]: string});
  'evaluation'?: (_tributary_v1_EvaluationState);
  'siteFailures'?: (_tributary_v1_SiteFailure)[];
  'extendedUntilMs'?: (number | string | Long);
  'selectedCount'?: (number);
  'acceptedCount'?: (number);
  'refusedCount'?: (number);
  'failedSiteCount'?: (number);
  'listsOmitted'?: (boolean);
}

export interface Round__Output {
  'federation': (string);
  'runId': (string);
  'number': (number);
  'state': (_tributary_v1_RoundState__Output);
  'selectedSites': (string)[];
  'accepted': (_tributary_v1_UpdateSummary__Output)[];
  'refused': (_tributary_v1_Refusal__Output)[];
  'openedAtMs': (number);
  'deadlineAtMs': (number);
  'closedAtMs': (number);
  'failureReason': (string);
  'baseVersion': (number);
  'committedVersion': (number);
  'metrics': ({[key: string]: number});
  'bytesReceived': (number);
  'config': ({[key: string]: string});
  'evaluation': (_tributary_v1_EvaluationState__Output);
  'siteFailures': (_tributary_v1_SiteFailure__Output)[];
  'extendedUntilMs': (number);
  'selectedCount': (number);
  'acceptedCount': (number);
  'refusedCount': (number);
  'failedSiteCount': (number);
  'listsOmitted': (boolean);
}
