import { Reason, TributaryError } from '@tributary/proto';
import { Level } from 'level';
import type {
  DeletedFederationRecord,
  FederationRecord,
  GrantRecord,
  InvitationRecord,
  PrincipalRecord,
  ModelVersionRecord,
  DashboardSessionRecord,
  RoundRecord,
  RunRecord,
  SiteRecord,
  UpdateRecord,
} from './records.js';
import { openSublevel, prefixRange, type LevelBatchOp, type LevelDb, type Sublevel } from './level-layout.js';
import type { StateStore, StateWrite } from './store.js';
import { modelVersionKey, planWrites, roundKey, splitInlineBlobs, type StateTable } from './write-plan.js';
import type { InlineBlobTable } from './blob-store.js';
import type { IssuedSiteCredential } from '../nats-auth/credential-ledger.js';
import { LevelSiteCredentialLedger } from './site-credential-ledger.js';
import { LevelSiteLastSeenTable } from './site-last-seen.js';

/** Sites (and key owners) kept in memory at most; past it the cache starts over. */
const SITE_CACHE_ENTRIES = 100_000;

/** The state store on one LevelDB database in `dir`, one sublevel per record kind. */
export class LevelStateStore implements StateStore {
  private readonly db: LevelDb;
  private readonly sites: Sublevel<SiteRecord>;
  /** keyId -> site name. */
  private readonly siteKeys: Sublevel<string>;
  private readonly federations: Sublevel<FederationRecord>;
  private readonly deletedFederations: Sublevel<DeletedFederationRecord>;
  private readonly runs: Sublevel<RunRecord>;
  /** federation, reversed start time, run id -> run id. */
  private readonly runsByFederation: Sublevel<string>;
  /** reversed start time, run id -> run id. */
  private readonly runsByStart: Sublevel<string>;
  /** run id, zero-padded round number -> round. */
  private readonly rounds: Sublevel<RoundRecord>;
  private readonly updates: Sublevel<UpdateRecord>;
  /** federation, zero-padded version -> model version. */
  private readonly modelVersions: Sublevel<ModelVersionRecord>;
  private readonly invitations: Sublevel<InvitationRecord>;
  private readonly principals: Sublevel<PrincipalRecord>;
  /** keyId -> principal name. */
  private readonly principalKeys: Sublevel<string>;
  /** federation (or `*`), grantee kind, grantee name, privilege -> grant. */
  private readonly grants: Sublevel<GrantRecord>;
  /** site, expiry, NATS user key -> NATS credential issued to the site. */
  private readonly natsCredentials: Sublevel<IssuedSiteCredential>;
  /** SHA-256 of a dashboard session's secret -> the session. */
  private readonly dashboardSessions: Sublevel<DashboardSessionRecord>;
  /** site name -> when it was last heard from (ms). */
  private readonly siteLastSeen: Sublevel<number>;
  /** SHA-256 -> a small blob's bytes (see `BlobStore`). */
  private readonly inlineBlobs: Sublevel<Uint8Array>;
  /**
   * Sites and key owners as read, so the update path (every update names its site's key) reads
   * LevelDB once a site rather than twice an update. Every write goes through this store, which
   * drops what it changes; a read that began before a site write is not kept (`siteWrites`).
   */
  private readonly siteCache = new Map<string, SiteRecord | null>();
  private readonly keyOwnerCache = new Map<string, string | null>();
  private siteWrites = 0;
  // Writes read the records they replace to keep the indexes right, so they run one at a time.
  private writeTail: Promise<void> = Promise.resolve();
  /** Set by close(): a write after it (work abandoned by a bounded stop) is refused, not a disk fault. */
  private closed = false;
  /** Set by the first failed write: every later write is refused with it. */
  private failed: TributaryError | undefined;
  private readonly failureListeners: Array<(failure: TributaryError) => void> = [];

  constructor(readonly dir: string) {
    this.db = new Level<string, unknown>(dir, { valueEncoding: 'json' });
    this.sites = openSublevel(this.db, 'sites');
    this.siteKeys = openSublevel(this.db, 'site-keys');
    this.federations = openSublevel(this.db, 'federations');
    this.deletedFederations = openSublevel(this.db, 'deleted-federations');
    this.runs = openSublevel(this.db, 'runs');
    this.runsByFederation = openSublevel(this.db, 'runs-by-federation');
    this.runsByStart = openSublevel(this.db, 'runs-by-start');
    this.rounds = openSublevel(this.db, 'rounds');
    this.updates = openSublevel(this.db, 'updates');
    this.modelVersions = openSublevel(this.db, 'model-versions');
    this.invitations = openSublevel(this.db, 'invitations');
    this.principals = openSublevel(this.db, 'principals');
    this.principalKeys = openSublevel(this.db, 'principal-keys');
    this.grants = openSublevel(this.db, 'grants');
    this.natsCredentials = openSublevel(this.db, 'nats-credentials');
    this.dashboardSessions = openSublevel(this.db, 'dashboard-sessions');
    this.siteLastSeen = openSublevel(this.db, 'site-last-seen');
    this.inlineBlobs = openSublevel(this.db, 'inline-blobs', 'view');
  }

  async open(): Promise<void> {
    await this.db.open();
    for (const sub of Object.values(this.tables())) await sub.open();
    await this.natsCredentials.open();
    await this.dashboardSessions.open();
    await this.siteLastSeen.open();
    await this.inlineBlobs.open();
  }

  /** The small blobs written inline with state records, for the blob store to read. */
  inlineBlobTable(): InlineBlobTable {
    return {
      get: (sha256) => this.inlineBlobs.get(sha256),
      digests: () => this.inlineBlobs.keys().all(),
      remove: async (sha256) => {
        const bytes = await this.inlineBlobs.get(sha256);
        if (bytes === undefined) return undefined;
        const refusal = this.writeRefusal();
        if (refusal !== undefined) throw refusal;
        await this.db.batch([{ type: 'del', sublevel: this.inlineBlobs as Sublevel<unknown>, key: sha256 }], { sync: true });
        return bytes.byteLength;
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.writeTail;
    await this.db.close();
  }

  /** The ledger of NATS credentials issued to sites, at most `maxPerSite` unexpired per site. */
  siteCredentialLedger(maxPerSite: number): LevelSiteCredentialLedger {
    return new LevelSiteCredentialLedger(this.natsCredentials, maxPerSite);
  }

  /** The web dashboard's sessions, kept across restarts (see DashboardSessions). */
  dashboardSessionTable(): Sublevel<DashboardSessionRecord> {
    return this.dashboardSessions;
  }

  /** When each site was last heard from; its writes stop once the store is closed or fenced. */
  siteLastSeenTable(): LevelSiteLastSeenTable {
    return new LevelSiteLastSeenTable(this.siteLastSeen, () => this.writeRefusal());
  }

  /** Why a write outside `write()` is refused now: the store is closed, or fenced by a failed write. */
  private writeRefusal(): TributaryError | undefined {
    return this.closed ? closedError() : this.failed;
  }

  getSite(name: string): Promise<SiteRecord | undefined> {
    return this.cachedRead(this.siteCache, name, (n) => this.sites.get(n));
  }

  async getSiteByKeyId(keyId: string): Promise<SiteRecord | undefined> {
    const name = await this.cachedRead(this.keyOwnerCache, keyId, (k) => this.siteKeys.get(k));
    if (name === undefined) return undefined;
    const site = await this.getSite(name);
    return site?.keyId === keyId ? site : undefined;
  }

  /** A fresh copy of the cached record (callers may change what they get), read and kept on a miss. */
  private async cachedRead<V>(cache: Map<string, V | null>, key: string, read: (key: string) => Promise<V | undefined>): Promise<V | undefined> {
    const cached = cache.get(key);
    if (cached !== undefined) return cached === null ? undefined : structuredClone(cached);
    const writes = this.siteWrites;
    const value = await read(key);
    if (writes === this.siteWrites) {
      if (cache.size >= SITE_CACHE_ENTRIES) cache.clear();
      cache.set(key, value === undefined ? null : structuredClone(value));
    }
    return value;
  }

  listSites(): Promise<SiteRecord[]> {
    return this.sites.values().all();
  }

  getFederation(name: string): Promise<FederationRecord | undefined> {
    return this.federations.get(name);
  }

  listFederations(): Promise<FederationRecord[]> {
    return this.federations.values().all();
  }

  getDeletedFederation(name: string): Promise<DeletedFederationRecord | undefined> {
    return this.deletedFederations.get(name);
  }

  listDeletedFederations(): Promise<DeletedFederationRecord[]> {
    return this.deletedFederations.values().all();
  }

  getRun(runId: string): Promise<RunRecord | undefined> {
    return this.runs.get(runId);
  }

  async listRuns(federation?: string): Promise<RunRecord[]> {
    const ids =
      federation === undefined
        ? await this.runsByStart.values().all()
        : await this.runsByFederation.values(prefixRange(federation)).all();
    if (ids.length === 0) return [];
    const runs = await this.runs.getMany(ids);
    return runs.filter((r): r is RunRecord => r !== undefined);
  }

  getRound(runId: string, round: number): Promise<RoundRecord | undefined> {
    return this.rounds.get(roundKey(runId, round));
  }

  listRounds(runId: string): Promise<RoundRecord[]> {
    return this.rounds.values(prefixRange(runId)).all();
  }

  getUpdate(updateId: string): Promise<UpdateRecord | undefined> {
    return this.updates.get(updateId);
  }

  getModelVersion(federation: string, version: number): Promise<ModelVersionRecord | undefined> {
    return this.modelVersions.get(modelVersionKey(federation, version));
  }

  listModelVersions(federation: string): Promise<ModelVersionRecord[]> {
    return this.modelVersions.values(prefixRange(federation)).all();
  }

  getInvitation(tokenSha256: string): Promise<InvitationRecord | undefined> {
    return this.invitations.get(tokenSha256);
  }

  listInvitations(): Promise<InvitationRecord[]> {
    return this.invitations.values().all();
  }

  getPrincipal(name: string): Promise<PrincipalRecord | undefined> {
    return this.principals.get(name);
  }

  async getPrincipalByKeyId(keyId: string): Promise<PrincipalRecord | undefined> {
    const name = await this.principalKeys.get(keyId);
    if (name === undefined) return undefined;
    const principal = await this.principals.get(name);
    return principal?.keyId === keyId ? principal : undefined;
  }

  listPrincipals(): Promise<PrincipalRecord[]> {
    return this.principals.values().all();
  }

  listGrants(): Promise<GrantRecord[]> {
    return this.grants.values().all();
  }

  /**
   * Applies the records in one synced LevelDB batch: once it resolves they survive a crash or a
   * power cut, which is what answering a site or a caller promises. A batch that fails (a full
   * disk, an I/O error) may leave a torn record in LevelDB's log, and anything written after it
   * through the same handle would be dropped with it at the next open: so the first failure
   * fences the store, every later write is refused with STATE_WRITE_FAILED, and the coordinator
   * must be restarted (LevelDB then discards the torn record, which nobody was told about).
   */
  write(ops: StateWrite[]): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    const done = this.writeTail.then(() => this.applyWrites(ops));
    this.writeTail = done.catch(() => undefined);
    return done;
  }

  /** The write failure that fenced the store, if one did. */
  get failure(): TributaryError | undefined {
    return this.failed;
  }

  /** Calls `listener` once when a write fails and fences the store. */
  onFailure(listener: (failure: TributaryError) => void): void {
    this.failureListeners.push(listener);
  }

  private async applyWrites(ops: StateWrite[]): Promise<void> {
    const { records, blobs } = splitInlineBlobs(ops);
    const plan = await planWrites(records, {
      site: (name) => this.sites.get(name),
      keyOwner: (keyId) => this.siteKeys.get(keyId),
      run: (runId) => this.runs.get(runId),
      principal: (name) => this.principals.get(name),
      principalKeyOwner: (keyId) => this.principalKeys.get(keyId),
    });
    const tables = this.tables();
    const batch: LevelBatchOp[] = plan.map((op) =>
      op.type === 'put'
        ? { type: 'put', sublevel: tables[op.table], key: op.key, value: op.value }
        : { type: 'del', sublevel: tables[op.table], key: op.key },
    );
    for (const blob of blobs) batch.push({ type: 'put', sublevel: this.inlineBlobs as Sublevel<unknown>, key: blob.sha256, value: blob.bytes });
    if (batch.length === 0) return;
    if (this.failed) throw this.failed;
    const sitesChange = plan.filter((op) => op.table === 'sites' || op.table === 'siteKeys');
    if (sitesChange.length > 0) this.siteWrites++;
    try {
      await this.db.batch(batch, { sync: true });
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause ?? err;
      this.failed = TributaryError.of(Reason.STATE_WRITE_FAILED, `a state write failed (${TributaryError.from(cause).message}); the coordinator accepts nothing more until it is restarted`, { cause: err });
      for (const listener of this.failureListeners) listener(this.failed);
      throw this.failed;
    } finally {
      // Dropped after the batch (a read meanwhile is not kept either): the next read sees it.
      for (const op of sitesChange) (op.table === 'sites' ? this.siteCache : this.keyOwnerCache).delete(op.key);
      if (sitesChange.length > 0) this.siteWrites++;
    }
  }

  private tables(): Record<StateTable, Sublevel<unknown>> {
    return {
      sites: this.sites,
      siteKeys: this.siteKeys,
      federations: this.federations,
      deletedFederations: this.deletedFederations,
      runs: this.runs,
      runsByFederation: this.runsByFederation,
      runsByStart: this.runsByStart,
      rounds: this.rounds,
      updates: this.updates,
      modelVersions: this.modelVersions,
      invitations: this.invitations,
      principals: this.principals,
      principalKeys: this.principalKeys,
      grants: this.grants,
    } as Record<StateTable, Sublevel<unknown>>;
  }
}

function closedError(): TributaryError {
  return TributaryError.of(Reason.STATE_STORE_UNAVAILABLE, 'the state store is closed: the coordinator is stopping');
}
