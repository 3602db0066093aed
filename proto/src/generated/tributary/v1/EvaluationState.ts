// Original file: tributary.proto

export const EvaluationState = {
  EVALUATION_STATE_NONE: 'EVALUATION_STATE_NONE',
  EVALUATION_STATE_PENDING: 'EVALUATION_STATE_PENDING',
  EVALUATION_STATE_DONE: 'EVALUATION_STATE_DONE',
  EVALUATION_STATE_SKIPPED: 'EVALUATION_STATE_SKIPPED',
} as const;

export type EvaluationState =
  | 'EVALUATION_STATE_NONE'
  | 0
  | 'EVALUATION_STATE_PENDING'
  | 1
  | 'EVALUATION_STATE_DONE'
  | 2
  | 'EVALUATION_STATE_SKIPPED'
  | 3

export type EvaluationState__Output = typeof EvaluationState[keyof typeof EvaluationState]
