// Original file: tributary.proto

import type { Long } from '@grpc/proto-loader';

export interface TrackedRun {
  'trackingRunId'?: (string);
  'runId'?: (string);
  'name'?: (string);
  'status'?: (string);
  'startTimeMs'?: (number | string | Long);
  'endTimeMs'?: (number | string | Long);
  'metrics'?: ({[key: string]: number | string});
  'params'?: ({[key: string]: string});
  'tags'?: ({[key: string]: string});
}

export interface TrackedRun__Output {
  'trackingRunId': (string);
  'runId': (string);
  'name': (string);
  'status': (string);
  'startTimeMs': (number);
  'endTimeMs': (number);
  'metrics': ({[key: string]: number});
  'params': ({[key: string]: string});
  'tags': ({[key: string]: string});
}
