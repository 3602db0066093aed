/** A site credential lives this long unless asked otherwise: the SDK renews it over gRPC. */
export const DEFAULT_SITE_CREDENTIAL_TTL_MS = 3_600_000;
/** Bounds of a site credential's lifetime: JWT expiry has 1 s resolution; a day caps the harm of a leak. */
export const MIN_SITE_CREDENTIAL_TTL_MS = 1_000;
export const MAX_SITE_CREDENTIAL_TTL_MS = 24 * 3_600_000;
