// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface CollectGarbageResponse {
  'versionsKept'?: (number);
  'versionsReleased'?: (number);
  'blobsDeleted'?: (number);
  'bytesFreed'?: (number | string | Long);
}

export interface CollectGarbageResponse__Output {
  'versionsKept': (number);
  'versionsReleased': (number);
  'blobsDeleted': (number);
  'bytesFreed': (number);
}
