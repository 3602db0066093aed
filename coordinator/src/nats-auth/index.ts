export { NatsAuthority, DEFAULT_SITE_CREDENTIAL_TTL_MS, MAX_SITE_CREDENTIAL_TTL_MS, MIN_SITE_CREDENTIAL_TTL_MS } from './authority.js';
export type { AccountUpdate, NatsAuthorityOptions, SiteCredentials, SiteCredentialsRequest } from './authority.js';
export { createNatsAuthority, type NatsAuthorityFiles, type NatsAuthoritySetup } from './authority-setup.js';
export { AuthorityLayout } from './authority-layout.js';
export { DEFAULT_JETSTREAM_LIMITS, type AccountJetStreamLimits } from './account-claims.js';
export { ClaimsUpdater, CLAIMS_UPDATE_SUBJECT, type ClaimsUpdateAck, type ClaimsUpdaterOptions } from './claims-update.js';
export { MemorySiteCredentialLedger, type IssuedSiteCredential, type SiteCredentialLedger } from './credential-ledger.js';
export { aggregatorPermissions, coordinatorPermissions, sitePermissions } from './permissions.js';
export { operatorModeLines, standaloneServerConfig, type OperatorModeSettings, type StandaloneServerSettings } from './server-config.js';
