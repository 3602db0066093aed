// Original file: tributary.proto

export const RunStatus = {
  RUN_STATUS_UNSPECIFIED: 'RUN_STATUS_UNSPECIFIED',
  RUN_STATUS_RUNNING: 'RUN_STATUS_RUNNING',
  RUN_STATUS_FINISHED: 'RUN_STATUS_FINISHED',
  RUN_STATUS_FAILED: 'RUN_STATUS_FAILED',
  RUN_STATUS_KILLED: 'RUN_STATUS_KILLED',
} as const;

export type RunStatus =
  | 'RUN_STATUS_UNSPECIFIED'
  | 0
  | 'RUN_STATUS_RUNNING'
  | 1
  | 'RUN_STATUS_FINISHED'
  | 2
  | 'RUN_STATUS_FAILED'
  | 3
  | 'RUN_STATUS_KILLED'
  | 4

export type RunStatus__Output = typeof RunStatus[keyof typeof RunStatus]
