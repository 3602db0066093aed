// Original file: tributary.proto

export const PrincipalStatus = {
  PRINCIPAL_STATUS_UNSPECIFIED: 'PRINCIPAL_STATUS_UNSPECIFIED',
  PRINCIPAL_STATUS_ACTIVE: 'PRINCIPAL_STATUS_ACTIVE',
  PRINCIPAL_STATUS_DISABLED: 'PRINCIPAL_STATUS_DISABLED',
} as const;

export type PrincipalStatus =
  | 'PRINCIPAL_STATUS_UNSPECIFIED'
  | 0
  | 'PRINCIPAL_STATUS_ACTIVE'
  | 1
  | 'PRINCIPAL_STATUS_DISABLED'
  | 2

export type PrincipalStatus__Output = typeof PrincipalStatus[keyof typeof PrincipalStatus]
