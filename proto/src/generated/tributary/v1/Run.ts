// Original file: tributary.proto

import type { RunStatus as _tributary_v1_RunStatus, RunStatus__Output as _tributary_v1_RunStatus__Output } from '../../tributary/v1/RunStatus.js';
import type { FederationSettings as _tributary_v1_FederationSettings, FederationSettings__Output as _tributary_v1_FederationSettings__Output } from '../../tributary/v1/FederationSettings.js';
import type { Long } from '@grpc/proto-loader';

export interface Run {
  'id'?: (string);
  'federation'?: (string);
  'status'?: (_tributary_v1_RunStatus);
  'rounds'?: (number);
  'currentRound'?: (number);
  'startedAtMs'?: (number | string | Long);
  'endedAtMs'?: (number | string | Long);
  'failureReason'?: (string);
  'startVersion'?: (number | string | Long);
  'latestVersion'?: (number | string | Long);
  'settings'?: (_tributary_v1_FederationSettings | null);
  'requestId'?: (string);
}

export interface Run__Output {
  'id': (string);
  'federation': (string);
  'status': (_tributary_v1_RunStatus__Output);
  'rounds': (number);
  'currentRound': (number);
  'startedAtMs': (number);
  'endedAtMs': (number);
  'failureReason': (string);
  'startVersion': (number);
  'latestVersion': (number);
  'settings': (_tributary_v1_FederationSettings__Output | null);
  'requestId': (string);
}
