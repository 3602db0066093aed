import type {
  DeletedFederationRecord,
  FederationRecord,
  GrantRecord,
  PrincipalRecord,
  InvitationRecord,
  ModelVersionRecord,
  RoundRecord,
  RunRecord,
  SiteRecord,
  UpdateRecord,
} from './records.js';

/** A small blob kept inline in the state store (see `BlobStore.inlineWrite`), keyed by its verified SHA-256. */
export interface InlineBlobWrite {
  kind: 'inlineBlob';
  sha256: string;
  bytes: Uint8Array;
}

/** One record to write; `write()` applies several together or none. */
export type StateWrite =
  | InlineBlobWrite
  | { kind: 'site'; value: SiteRecord }
  | { kind: 'federation'; value: FederationRecord }
  /** Moves the federation of that name out of the live federations, into the deleted ones. */
  | { kind: 'federationDeleted'; value: DeletedFederationRecord }
  | { kind: 'run'; value: RunRecord }
  | { kind: 'round'; value: RoundRecord }
  | { kind: 'update'; value: UpdateRecord }
  | { kind: 'modelVersion'; value: ModelVersionRecord }
  | { kind: 'invitation'; value: InvitationRecord }
  | { kind: 'principal'; value: PrincipalRecord }
  | { kind: 'grant'; value: GrantRecord }
  /** Removes the grant of the same privilege, federation and grantee, if there is one. */
  | { kind: 'grantRemoved'; value: GrantRecord };

/** The coordinator's durable state. Getters answer `undefined` for a missing record. */
export interface StateStore {
  open(): Promise<void>;
  close(): Promise<void>;

  getSite(name: string): Promise<SiteRecord | undefined>;
  getSiteByKeyId(keyId: string): Promise<SiteRecord | undefined>;
  listSites(): Promise<SiteRecord[]>;

  getFederation(name: string): Promise<FederationRecord | undefined>;
  listFederations(): Promise<FederationRecord[]>;
  /** A deleted federation: `getFederation` no longer answers it. */
  getDeletedFederation(name: string): Promise<DeletedFederationRecord | undefined>;
  /** Ascending by name. */
  listDeletedFederations(): Promise<DeletedFederationRecord[]>;

  getRun(runId: string): Promise<RunRecord | undefined>;
  /** Newest first; all federations when `federation` is undefined. */
  listRuns(federation?: string): Promise<RunRecord[]>;

  getRound(runId: string, round: number): Promise<RoundRecord | undefined>;
  /** Ascending by round number. */
  listRounds(runId: string): Promise<RoundRecord[]>;

  getUpdate(updateId: string): Promise<UpdateRecord | undefined>;

  getModelVersion(federation: string, version: number): Promise<ModelVersionRecord | undefined>;
  /** Ascending by version. */
  listModelVersions(federation: string): Promise<ModelVersionRecord[]>;

  getInvitation(tokenSha256: string): Promise<InvitationRecord | undefined>;
  /** Every invitation, used, expired and revoked ones too, in no particular order. */
  listInvitations(): Promise<InvitationRecord[]>;

  getPrincipal(name: string): Promise<PrincipalRecord | undefined>;
  getPrincipalByKeyId(keyId: string): Promise<PrincipalRecord | undefined>;
  /** Ascending by name. */
  listPrincipals(): Promise<PrincipalRecord[]>;

  /** Ascending by federation (`*` first), grantee kind, grantee name and privilege. */
  listGrants(): Promise<GrantRecord[]>;

  /** Atomic write of several records (one LevelDB batch): all of them or, on error, none. */
  write(ops: StateWrite[]): Promise<void>;
}
