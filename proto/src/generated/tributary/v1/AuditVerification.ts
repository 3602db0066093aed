// Original file: tributary.proto

import type { AuditBreak as _tributary_v1_AuditBreak, AuditBreak__Output as _tributary_v1_AuditBreak__Output } from '../../tributary/v1/AuditBreak.js';
import type { Long } from '@grpc/proto-loader';

export interface AuditVerification {
  'ok'?: (boolean);
  'segments'?: (number);
  'firstSegment'?: (number);
  'entries'?: (number | string | Long);
  'signatures'?: (number | string | Long);
  'unsignedEntries'?: (number | string | Long);
  'headHash'?: (string);
  'broken'?: (_tributary_v1_AuditBreak | null);
  'coordinatorKeyId'?: (string);
}

export interface AuditVerification__Output {
  'ok': (boolean);
  'segments': (number);
  'firstSegment': (number);
  'entries': (number);
  'signatures': (number);
  'unsignedEntries': (number);
  'headHash': (string);
  'broken': (_tributary_v1_AuditBreak__Output | null);
  'coordinatorKeyId': (string);
}
