// Original file: tributary.proto

import type { ModelSpec as _tributary_v1_ModelSpec, ModelSpec__Output as _tributary_v1_ModelSpec__Output } from '../../tributary/v1/ModelSpec.js';
import type { RunStatus as _tributary_v1_RunStatus, RunStatus__Output as _tributary_v1_RunStatus__Output } from '../../tributary/v1/RunStatus.js';
import type { Long } from '@grpc/proto-loader';

export interface Task {
  'federation'?: (string);
  'runId'?: (string);
  'round'?: (number);
  'kind'?: (string);
  'modelVersion'?: (number | string | Long);
  'modelSha256'?: (string);
  'modelSize'?: (number | string | Long);
  'config'?: ({[key: string]: string});
  'deadlineAtMs'?: (number | string | Long);
  'modelSpec'?: (_tributary_v1_ModelSpec | null);
  'runStatus'?: (_tributary_v1_RunStatus);
  'runMessage'?: (string);
  'natsUrls'?: (string)[];
  'heartbeatIntervalSeconds'?: (number);
  'uploadGraceSeconds'?: (number);
  'announced'?: (boolean);
}

export interface Task__Output {
  'federation': (string);
  'runId': (string);
  'round': (number);
  'kind': (string);
  'modelVersion': (number);
  'modelSha256': (string);
  'modelSize': (number);
  'config': ({[key: string]: string});
  'deadlineAtMs': (number);
  'modelSpec': (_tributary_v1_ModelSpec__Output | null);
  'runStatus': (_tributary_v1_RunStatus__Output);
  'runMessage': (string);
  'natsUrls': (string)[];
  'heartbeatIntervalSeconds': (number);
  'uploadGraceSeconds': (number);
  'announced': (boolean);
}
