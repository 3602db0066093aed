// Original file: tributary.proto

export const SiteStatus = {
  SITE_STATUS_UNSPECIFIED: 'SITE_STATUS_UNSPECIFIED',
  SITE_STATUS_APPROVED: 'SITE_STATUS_APPROVED',
  SITE_STATUS_REVOKED: 'SITE_STATUS_REVOKED',
} as const;

export type SiteStatus =
  | 'SITE_STATUS_UNSPECIFIED'
  | 0
  | 'SITE_STATUS_APPROVED'
  | 1
  | 'SITE_STATUS_REVOKED'
  | 2

export type SiteStatus__Output = typeof SiteStatus[keyof typeof SiteStatus]
