// Original file: tributary.proto

import type { UpdateSummary as _tributary_v1_UpdateSummary, UpdateSummary__Output as _tributary_v1_UpdateSummary__Output } from '../../tributary/v1/UpdateSummary.js';
import type { Long } from '@grpc/proto-loader';

export interface ModelVersion {
  'federation'?: (string);
  'version'?: (number | string | Long);
  'sha256'?: (string);
  'size'?: (number | string | Long);
  'parentVersion'?: (number | string | Long);
  'runId'?: (string);
  'round'?: (number);
  'contributions'?: (_tributary_v1_UpdateSummary)[];
  'createdAtMs'?: (number | string | Long);
  'strategy'?: (string);
  'metrics'?: ({[key: string]: number | string});
  'strategyStateSha256'?: (string);
}

export interface ModelVersion__Output {
  'federation': (string);
  'version': (number);
  'sha256': (string);
  'size': (number);
  'parentVersion': (number);
  'runId': (string);
  'round': (number);
  'contributions': (_tributary_v1_UpdateSummary__Output)[];
  'createdAtMs': (number);
  'strategy': (string);
  'metrics': ({[key: string]: number});
  'strategyStateSha256': (string);
}
