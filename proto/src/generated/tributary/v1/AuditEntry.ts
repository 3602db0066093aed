// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface AuditEntry {
  'segment'?: (number);
  'index'?: (number);
  'atMs'?: (number | string | Long);
  'keyId'?: (string);
  'principalName'?: (string);
  'peer'?: (string);
  'method'?: (string);
  'federation'?: (string);
  'site'?: (string);
  'runId'?: (string);
  'outcome'?: (string);
  'reason'?: (string);
  'hash'?: (string);
  'detail'?: (string);
}

export interface AuditEntry__Output {
  'segment': (number);
  'index': (number);
  'atMs': (number);
  'keyId': (string);
  'principalName': (string);
  'peer': (string);
  'method': (string);
  'federation': (string);
  'site': (string);
  'runId': (string);
  'outcome': (string);
  'reason': (string);
  'hash': (string);
  'detail': (string);
}
