import { Reason, TributaryError } from '@tributary/proto';
import { prefixRange } from './level-layout.js';
import type {
  DeletedFederationRecord,
  FederationRecord,
  GrantRecord,
  InvitationRecord,
  PrincipalRecord,
  ModelVersionRecord,
  RoundRecord,
  RunRecord,
  SiteRecord,
  UpdateRecord,
} from './records.js';
import type { StateStore, StateWrite } from './store.js';
import { STATE_TABLES, modelVersionKey, planWrites, roundKey, splitInlineBlobs, type StateTable } from './write-plan.js';
import type { InlineBlobTable } from './blob-store.js';

/**
 * The state store in memory, for tests and throwaway coordinators: the same tables, keys, checks
 * and atomic writes as `LevelStateStore`, so it answers every call the same way. Records are kept
 * as JSON text, as LevelDB keeps them: what is read is a fresh copy, and changing a record after
 * writing it changes nothing stored. The data lives as long as the object, across close and open.
 */
export class MemoryStateStore implements StateStore {
  private readonly tables = new Map<StateTable, Map<string, string>>(STATE_TABLES.map((t) => [t, new Map()]));
  /** SHA-256 -> a small blob's bytes, a copy of what was written. */
  private readonly inlineBlobs = new Map<string, Uint8Array>();
  private isOpen = false;
  // Writes read the records they replace to keep the indexes right, so they run one at a time.
  private writeTail: Promise<void> = Promise.resolve();

  async open(): Promise<void> {
    this.isOpen = true;
  }

  async close(): Promise<void> {
    await this.writeTail;
    this.isOpen = false;
  }

  async getSite(name: string): Promise<SiteRecord | undefined> {
    return this.get('sites', name);
  }

  async getSiteByKeyId(keyId: string): Promise<SiteRecord | undefined> {
    const name = this.get<string>('siteKeys', keyId);
    if (name === undefined) return undefined;
    const site = this.get<SiteRecord>('sites', name);
    return site?.keyId === keyId ? site : undefined;
  }

  async listSites(): Promise<SiteRecord[]> {
    return this.values('sites');
  }

  async getFederation(name: string): Promise<FederationRecord | undefined> {
    return this.get('federations', name);
  }

  async listFederations(): Promise<FederationRecord[]> {
    return this.values('federations');
  }

  async getDeletedFederation(name: string): Promise<DeletedFederationRecord | undefined> {
    return this.get('deletedFederations', name);
  }

  async listDeletedFederations(): Promise<DeletedFederationRecord[]> {
    return this.values('deletedFederations');
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    return this.get('runs', runId);
  }

  async listRuns(federation?: string): Promise<RunRecord[]> {
    const ids = federation === undefined ? this.values<string>('runsByStart') : this.values<string>('runsByFederation', prefixRange(federation));
    return ids.map((id) => this.get<RunRecord>('runs', id)).filter((r): r is RunRecord => r !== undefined);
  }

  async getRound(runId: string, round: number): Promise<RoundRecord | undefined> {
    return this.get('rounds', roundKey(runId, round));
  }

  async listRounds(runId: string): Promise<RoundRecord[]> {
    return this.values('rounds', prefixRange(runId));
  }

  async getUpdate(updateId: string): Promise<UpdateRecord | undefined> {
    return this.get('updates', updateId);
  }

  async getModelVersion(federation: string, version: number): Promise<ModelVersionRecord | undefined> {
    return this.get('modelVersions', modelVersionKey(federation, version));
  }

  async listModelVersions(federation: string): Promise<ModelVersionRecord[]> {
    return this.values('modelVersions', prefixRange(federation));
  }

  async getInvitation(tokenSha256: string): Promise<InvitationRecord | undefined> {
    return this.get('invitations', tokenSha256);
  }

  async listInvitations(): Promise<InvitationRecord[]> {
    return this.values('invitations');
  }

  async getPrincipal(name: string): Promise<PrincipalRecord | undefined> {
    return this.get('principals', name);
  }

  async getPrincipalByKeyId(keyId: string): Promise<PrincipalRecord | undefined> {
    const name = this.get<string>('principalKeys', keyId);
    if (name === undefined) return undefined;
    const principal = this.get<PrincipalRecord>('principals', name);
    return principal?.keyId === keyId ? principal : undefined;
  }

  async listPrincipals(): Promise<PrincipalRecord[]> {
    return this.values('principals');
  }

  async listGrants(): Promise<GrantRecord[]> {
    return this.values('grants');
  }

  write(ops: StateWrite[]): Promise<void> {
    const done = this.writeTail.then(() => this.applyWrites(ops));
    this.writeTail = done.catch(() => undefined);
    return done;
  }

  /** The small blobs written inline with state records, for the blob store to read. */
  inlineBlobTable(): InlineBlobTable {
    return {
      get: async (sha256) => {
        this.checkOpen();
        const bytes = this.inlineBlobs.get(sha256);
        return bytes === undefined ? undefined : new Uint8Array(bytes);
      },
      digests: async () => {
        this.checkOpen();
        return [...this.inlineBlobs.keys()].sort();
      },
      remove: async (sha256) => {
        this.checkOpen();
        const bytes = this.inlineBlobs.get(sha256);
        this.inlineBlobs.delete(sha256);
        return bytes?.byteLength;
      },
    };
  }

  private async applyWrites(ops: StateWrite[]): Promise<void> {
    this.checkOpen();
    const { records, blobs } = splitInlineBlobs(ops);
    const plan = await planWrites(records, {
      site: async (name) => this.get('sites', name),
      keyOwner: async (keyId) => this.get('siteKeys', keyId),
      run: async (runId) => this.get('runs', runId),
      principal: async (name) => this.get('principals', name),
      principalKeyOwner: async (keyId) => this.get('principalKeys', keyId),
    });
    // Encoded before anything changes, so the plan applies whole or not at all.
    const encoded = plan.map((op) => (op.type === 'put' ? { ...op, text: JSON.stringify(op.value) } : op));
    this.checkOpen();
    for (const op of encoded) {
      const table = this.table(op.table);
      if (op.type === 'put') table.set(op.key, op.text);
      else table.delete(op.key);
    }
    for (const blob of blobs) this.inlineBlobs.set(blob.sha256, new Uint8Array(blob.bytes));
  }

  private get<V>(table: StateTable, key: string): V | undefined {
    this.checkOpen();
    const text = this.table(table).get(key);
    return text === undefined ? undefined : (JSON.parse(text) as V);
  }

  /** The table's values in key order, within `range` when given (as a LevelDB iterator lists them). */
  private values<V>(table: StateTable, range?: { gt: string; lt: string }): V[] {
    this.checkOpen();
    return [...this.table(table)]
      .filter(([key]) => range === undefined || (key > range.gt && key < range.lt))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, text]) => JSON.parse(text) as V);
  }

  private table(name: StateTable): Map<string, string> {
    const table = this.tables.get(name);
    if (table === undefined) throw TributaryError.internal(`state table "${name}" is missing`);
    return table;
  }

  private checkOpen(): void {
    if (!this.isOpen) throw TributaryError.of(Reason.STATE_STORE_UNAVAILABLE, 'the state store is not open');
  }
}
