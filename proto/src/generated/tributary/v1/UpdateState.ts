// Original file: tributary.proto

export const UpdateState = {
  UPDATE_STATE_UNSPECIFIED: 'UPDATE_STATE_UNSPECIFIED',
  UPDATE_STATE_PENDING: 'UPDATE_STATE_PENDING',
  UPDATE_STATE_ACCEPTED: 'UPDATE_STATE_ACCEPTED',
  UPDATE_STATE_REFUSED: 'UPDATE_STATE_REFUSED',
} as const;

export type UpdateState =
  | 'UPDATE_STATE_UNSPECIFIED'
  | 0
  | 'UPDATE_STATE_PENDING'
  | 1
  | 'UPDATE_STATE_ACCEPTED'
  | 2
  | 'UPDATE_STATE_REFUSED'
  | 3

export type UpdateState__Output = typeof UpdateState[keyof typeof UpdateState]
