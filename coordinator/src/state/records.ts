import type {
  Privilege,
  FederationSettings__Output,
  ModelVersion__Output,
  Round__Output,
  Run__Output,
  TensorSpec__Output,
  UpdateSummary__Output,
} from '@tributary/proto';

export type { Privilege };

// Records are plain JSON values: what the store writes is what it reads back.

/** A partner site and its Ed25519 key. */
export interface SiteRecord {
  name: string;
  keyId: string;
  /** Raw 32-byte Ed25519 public key, standard base64. */
  publicKey: string;
  status: 'APPROVED' | 'REVOKED';
  federations: string[];
  createdAtMs: number;
  /** 0 if never revoked. */
  revokedAtMs: number;
  /**
   * Set while the site is removed (out of every federation, key revoked); absent on sites never
   * removed and cleared by a restore. `removedFrom` keeps the memberships it had, for the record.
   */
  removedAtMs?: number;
  removedBy?: string;
  removedFrom?: string[];
  /** When and by whom its key was last trusted again after a revocation; absent if never. */
  restoredAtMs?: number;
  restoredBy?: string;
}

/** A federation; its members are the sites whose `federations` name it. */
export interface FederationRecord {
  name: string;
  description: string;
  settings: FederationSettings__Output;
  modelSpec: TensorSpec__Output[];
  createdAtMs: number;
  latestVersion: number;
}

/**
 * A deleted federation, kept for the record: its runs, rounds and model versions stay under its
 * name, so the name is never given to another federation.
 */
export interface DeletedFederationRecord extends FederationRecord {
  deletedAtMs: number;
  /** Name of the principal that deleted it. */
  deletedBy: string;
  /** Sites that were its members when it was deleted. */
  formerSites: string[];
}

export type RunRecord = Run__Output;

/** A round as stored and held by the engine: the wire message without the counts of its lists, which are derived (`roundMessage`). */
export type RoundRecord = Omit<Round__Output, RoundListCounts>;

/** The fields of a Round message computed from its lists when it is sent. */
export type RoundListCounts = 'selectedCount' | 'acceptedCount' | 'refusedCount' | 'failedSiteCount' | 'listsOmitted';

/** The verdict on one update id; its presence is what makes a replayed update id detectable. */
export interface UpdateRecord {
  updateId: string;
  federation: string;
  runId: string;
  round: number;
  site: string;
  state: 'ACCEPTED' | 'REFUSED';
  /** Reason code when REFUSED, empty otherwise. */
  reason: string;
  message: string;
  atMs: number;
  summary?: UpdateSummary__Output;
  /**
   * Stream sequence of the TRIB_UPDATES message that carried the manifest: a later delivery of
   * that message is a redelivery (answered with this verdict, whatever its delivery count), any
   * other message with the same update id a replay. Absent in records written before it was kept.
   */
  manifestSeq?: number;
}

export type ModelVersionRecord = ModelVersion__Output;

/** A one-time enrolment token; only its digest is stored. */
export interface InvitationRecord {
  tokenSha256: string;
  /**
   * Public id (see `invitationIdOf`): derived from the digest, so invitations stored before ids
   * existed have the same one. Absent on those.
   */
  id?: string;
  federations: string[];
  /** Name the site must enrol under; empty lets the site choose. */
  siteName: string;
  expiresAtMs: number;
  createdAtMs: number;
  /** 0 until used. */
  usedAtMs: number;
  /** Name of the principal that minted it; absent on invitations minted before principals existed. */
  mintedBy?: string;
  /** When and by whom it was revoked; absent unless revoked. */
  revokedAtMs?: number;
  revokedBy?: string;
}

/** The public id of an invitation: `inv-` and the first 12 hex digits of its token's SHA-256. */
export function invitationIdOf(record: Pick<InvitationRecord, 'tokenSha256' | 'id'>): string {
  return record.id ?? `inv-${record.tokenSha256.slice(0, 12)}`;
}

/** A named admin-side key (a person, a CI job, a dashboard), managed at run time. */
export interface PrincipalRecord {
  name: string;
  keyId: string;
  /** Raw 32-byte Ed25519 public key, standard base64. */
  publicKey: string;
  groups: string[];
  status: 'ACTIVE' | 'DISABLED';
  description: string;
  createdAtMs: number;
  /** 0 if never disabled. */
  disabledAtMs: number;
  /** When the key was last replaced; 0 if never. */
  rotatedAtMs: number;
  /** Name of the principal that added it. */
  addedBy: string;
}

/** A privilege on `federation:<name>` (or `federation:*`) given to a principal or a group. */
export interface GrantRecord {
  privilege: Privilege;
  /** A federation name, or `*` for every federation. */
  federation: string;
  granteeKind: 'principal' | 'group';
  granteeName: string;
  /** Name of the principal that granted it. */
  grantedBy: string;
  grantedAtMs: number;
}

/** A web dashboard session, stored under the SHA-256 of its secret (never the secret itself). */
export interface DashboardSessionRecord {
  /** Key id of the principal that asked for the login token. */
  readonly keyId: string;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
}
