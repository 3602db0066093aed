// Original file: tributary.proto

export const RunEventDetail = {
  RUN_EVENT_DETAIL_FULL: 'RUN_EVENT_DETAIL_FULL',
  RUN_EVENT_DETAIL_COMPACT: 'RUN_EVENT_DETAIL_COMPACT',
} as const;

export type RunEventDetail =
  | 'RUN_EVENT_DETAIL_FULL'
  | 0
  | 'RUN_EVENT_DETAIL_COMPACT'
  | 1

export type RunEventDetail__Output = typeof RunEventDetail[keyof typeof RunEventDetail]
