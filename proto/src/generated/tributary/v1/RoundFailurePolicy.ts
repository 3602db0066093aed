// Original file: tributary.proto

export const RoundFailurePolicy = {
  ROUND_FAILURE_POLICY_UNSPECIFIED: 'ROUND_FAILURE_POLICY_UNSPECIFIED',
  ROUND_FAILURE_POLICY_FAIL_RUN: 'ROUND_FAILURE_POLICY_FAIL_RUN',
  ROUND_FAILURE_POLICY_CONTINUE: 'ROUND_FAILURE_POLICY_CONTINUE',
} as const;

export type RoundFailurePolicy =
  | 'ROUND_FAILURE_POLICY_UNSPECIFIED'
  | 0
  | 'ROUND_FAILURE_POLICY_FAIL_RUN'
  | 1
  | 'ROUND_FAILURE_POLICY_CONTINUE'
  | 2

export type RoundFailurePolicy__Output = typeof RoundFailurePolicy[keyof typeof RoundFailurePolicy]
