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
export type { StateStore, StateWrite } from './store.js';
export { LevelStateStore } from './level-store.js';
export { BlobStore, readWholeFile } from './blob-store.js';
export { MemoryStateStore } from './memory-store.js';
export { invitationIdOf } from './records.js';
export { LevelSiteLastSeenTable, MemorySiteLastSeenTable, type SiteLastSeenTable } from './site-last-seen.js';
