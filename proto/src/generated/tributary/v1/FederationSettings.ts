// Original file: tributary.proto

import type { RoundFailurePolicy as _tributary_v1_RoundFailurePolicy, RoundFailurePolicy__Output as _tributary_v1_RoundFailurePolicy__Output } from '../../tributary/v1/RoundFailurePolicy.js';
import type { Long } from '@grpc/proto-loader';

export interface FederationSettings {
  'strategy'?: (string);
  'strategyOptions'?: ({[key: string]: string});
  'rounds'?: (number);
  'minSites'?: (number);
  'sampleFraction'?: (number | string);
  'sampleCount'?: (number);
  'roundDeadlineSeconds'?: (number);
  'onRoundFailure'?: (_tributary_v1_RoundFailurePolicy);
  'evaluateEvery'?: (number);
  'normBound'?: (number | string);
  'normBoundMode'?: (string);
  'maxExamples'?: (number | string | Long);
  'keepVersions'?: (number);
  'waitAfterQuorumSeconds'?: (number);
  'onSiteError'?: (string);
  'siteIdleTimeoutSeconds'?: (number);
  'uploadGraceSeconds'?: (number);
  'runTimeoutSeconds'?: (number);
  'heartbeatIntervalSeconds'?: (number);
}

export interface FederationSettings__Output {
  'strategy': (string);
  'strategyOptions': ({[key: string]: string});
  'rounds': (number);
  'minSites': (number);
  'sampleFraction': (number);
  'sampleCount': (number);
  'roundDeadlineSeconds': (number);
  'onRoundFailure': (_tributary_v1_RoundFailurePolicy__Output);
  'evaluateEvery': (number);
  'normBound': (number);
  'normBoundMode': (string);
  'maxExamples': (number);
  'keepVersions': (number);
  'waitAfterQuorumSeconds': (number);
  'onSiteError': (string);
  'siteIdleTimeoutSeconds': (number);
  'uploadGraceSeconds': (number);
  'runTimeoutSeconds': (number);
  'heartbeatIntervalSeconds': (number);
}
