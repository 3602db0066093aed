export type {
  DeletedFederationRecord,
  FederationRecord,
  GrantRecord,
  InvitationRecord,
  PrincipalRecord,
  Privilege,
  ModelVersionRecord,
  RoundRecord,
  RunRecord,
  SiteRecord,
  UpdateRecord,
} from './records.js';
export type { InlineBlobWrite, StateStore, StateWrite } from './store.js';
export { LevelStateStore } from './level-store.js';
export { BlobStore, INLINE_BLOB_MAX_BYTES, readWholeFile, type BlobStoreOptions, type InlineBlobTable } from './blob-store.js';
export { MemoryStateStore } from './memory-store.js';
export { invitationIdOf } from './records.js';
export { LevelSiteLastSeenTable, MemorySiteLastSeenTable, type SiteLastSeenTable } from './site-last-seen.js';
