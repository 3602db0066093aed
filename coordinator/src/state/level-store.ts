import { Level } from 'level';
import { Reason, TributaryError } from '@tributary/proto';
import type {
  FederationRecord,
  InvitationRecord,
  ModelVersionRecord,
  RoundRecord,
  RunRecord,
  SiteRecord,
  UpdateRecord,
} from './records.js';
import { AFTER_SEP, SEP, openSublevel, prefixRange, type LevelBatchOp, type LevelDb, type Sublevel } from './level-layout.js';
import type { StateStore, StateWrite } from './store.js';
import type { IssuedSiteCredential } from '../nats-auth/credential-ledger.js';
import { LevelSiteCredentialLedger } from './site-credential-ledger.js';

const ROUND_DIGITS = 10; // uint32
const SAFE_DIGITS = 16; // Number.MAX_SAFE_INTEGER

/** The state store on one LevelDB database in `dir`, one sublevel per record kind. */
export class LevelStateStore implements StateStore {
  private readonly db: LevelDb;
  private readonly sites: Sublevel<SiteRecord>;
  /** keyId -> site name. */
  private readonly siteKeys: Sublevel<string>;
  private readonly federations: Sublevel<FederationRecord>;
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
  /** site, expiry, NATS user key -> NATS credential issued to the site. */
  private readonly natsCredentials: Sublevel<IssuedSiteCredential>;
  // Writes read the records they replace to keep the indexes right, so they run one at a time.
  private writeTail: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {
    this.db = new Level<string, unknown>(dir, { valueEncoding: 'json' });
    this.sites = openSublevel(this.db, 'sites');
    this.siteKeys = openSublevel(this.db, 'site-keys');
    this.federations = openSublevel(this.db, 'federations');
    this.runs = openSublevel(this.db, 'runs');
    this.runsByFederation = openSublevel(this.db, 'runs-by-federation');
    this.runsByStart = openSublevel(this.db, 'runs-by-start');
    this.rounds = openSublevel(this.db, 'rounds');
    this.updates = openSublevel(this.db, 'updates');
    this.modelVersions = openSublevel(this.db, 'model-versions');
    this.invitations = openSublevel(this.db, 'invitations');
    this.natsCredentials = openSublevel(this.db, 'nats-credentials');
  }

  async open(): Promise<void> {
    await this.db.open();
    for (const sub of this.sublevels()) await sub.open();
  }

  async close(): Promise<void> {
    await this.writeTail;
    await this.db.close();
  }

  /** The ledger of NATS credentials issued to sites, at most `maxPerSite` unexpired per site. */
  siteCredentialLedger(maxPerSite: number): LevelSiteCredentialLedger {
    return new LevelSiteCredentialLedger(this.natsCredentials, maxPerSite);
  }

  getSite(name: string): Promise<SiteRecord | undefined> {
    return this.sites.get(name);
  }

  async getSiteByKeyId(keyId: string): Promise<SiteRecord | undefined> {
    const name = await this.siteKeys.get(keyId);
    if (name === undefined) return undefined;
    const site = await this.sites.get(name);
    return site?.keyId === keyId ? site : undefined;
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

  write(ops: StateWrite[]): Promise<void> {
    const done = this.writeTail.then(() => this.applyWrites(ops));
    this.writeTail = done.catch(() => undefined);
    return done;
  }

  private async applyWrites(ops: StateWrite[]): Promise<void> {
    const batch: LevelBatchOp[] = [];
    // Records replaced earlier in this same batch, so index upkeep sees the batch's own effects.
    const pendingSites = new Map<string, SiteRecord>();
    const pendingRuns = new Map<string, RunRecord>();
    const pendingKeyOwners = new Map<string, string | undefined>();
    const put = <V>(sublevel: Sublevel<V>, key: string, value: V): void => {
      batch.push({ type: 'put', sublevel, key, value });
    };
    const del = <V>(sublevel: Sublevel<V>, key: string): void => {
      batch.push({ type: 'del', sublevel, key });
    };

    for (const op of ops) {
      checkJsonValue(op.value, op.kind);
      switch (op.kind) {
        case 'site': {
          const site = op.value;
          const name = keyPart('site', 'name', site.name);
          const keyId = keyPart('site', 'keyId', site.keyId);
          const previous = pendingSites.get(name) ?? (await this.sites.get(name));
          if (previous !== undefined && previous.keyId !== keyId) {
            del(this.siteKeys, previous.keyId);
            pendingKeyOwners.set(previous.keyId, undefined);
          }
          const owner = pendingKeyOwners.has(keyId)
            ? pendingKeyOwners.get(keyId)
            : await this.siteKeys.get(keyId);
          if (owner !== undefined && owner !== name) {
            throw TributaryError.of(Reason.ALREADY_EXISTS, `key ${keyId} already belongs to site "${owner}"`);
          }
          put(this.siteKeys, keyId, name);
          put(this.sites, name, site);
          pendingSites.set(name, site);
          pendingKeyOwners.set(keyId, name);
          break;
        }
        case 'federation':
          put(this.federations, keyPart('federation', 'name', op.value.name), op.value);
          break;
        case 'run': {
          const run = op.value;
          const id = keyPart('run', 'id', run.id);
          const federation = keyPart('run', 'federation', run.federation);
          const started = counter('run', 'startedAtMs', run.startedAtMs, Number.MAX_SAFE_INTEGER);
          const previous = pendingRuns.get(id) ?? (await this.runs.get(id));
          if (
            previous !== undefined &&
            (previous.federation !== federation || previous.startedAtMs !== started)
          ) {
            del(this.runsByFederation, runByFederationKey(previous));
            del(this.runsByStart, runByStartKey(previous));
          }
          put(this.runsByFederation, runByFederationKey(run), id);
          put(this.runsByStart, runByStartKey(run), id);
          put(this.runs, id, run);
          pendingRuns.set(id, run);
          break;
        }
        case 'round':
          put(this.rounds, roundKey(op.value.runId, op.value.number), op.value);
          break;
        case 'update':
          put(this.updates, keyPart('update', 'updateId', op.value.updateId), op.value);
          break;
        case 'modelVersion':
          put(
            this.modelVersions,
            modelVersionKey(op.value.federation, op.value.version),
            op.value,
          );
          break;
        case 'invitation':
          put(
            this.invitations,
            keyPart('invitation', 'tokenSha256', op.value.tokenSha256),
            op.value,
          );
          break;
        default:
          throw TributaryError.invalidArgument(`unknown state record kind "${String((op as { kind?: unknown }).kind)}"`);
      }
    }
    if (batch.length > 0) await this.db.batch(batch);
  }

  private sublevels(): Array<Sublevel<unknown>> {
    return [
      this.sites,
      this.siteKeys,
      this.federations,
      this.runs,
      this.runsByFederation,
      this.runsByStart,
      this.rounds,
      this.updates,
      this.modelVersions,
      this.invitations,
      this.natsCredentials,
    ] as Array<Sublevel<unknown>>;
  }
}

function keyPart(kind: string, field: string, value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.includes(SEP) || value.includes(AFTER_SEP)) {
    throw TributaryError.invalidArgument(`${kind} record: ${field} must be a non-empty string without control characters`);
  }
  return value;
}

function counter(kind: string, field: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw TributaryError.invalidArgument(`${kind} record: ${field} must be an integer in [0, ${max}]`);
  }
  return value;
}

function padded(n: number, digits: number): string {
  return String(n).padStart(digits, '0');
}

function roundKey(runId: string, round: number): string {
  return (
    keyPart('round', 'runId', runId) +
    SEP +
    padded(counter('round', 'number', round, 0xffff_ffff), ROUND_DIGITS)
  );
}

function modelVersionKey(federation: string, version: number): string {
  return (
    keyPart('modelVersion', 'federation', federation) +
    SEP +
    padded(counter('modelVersion', 'version', version, Number.MAX_SAFE_INTEGER), SAFE_DIGITS)
  );
}

// Newest first in key order: reverse the start time.
function reversedStart(run: RunRecord): string {
  return padded(Number.MAX_SAFE_INTEGER - run.startedAtMs, SAFE_DIGITS);
}

function runByFederationKey(run: RunRecord): string {
  return run.federation + SEP + reversedStart(run) + SEP + run.id;
}

function runByStartKey(run: RunRecord): string {
  return reversedStart(run) + SEP + run.id;
}

// JSON would store NaN and Infinity as null and drop or mangle the rest silently.
function checkJsonValue(value: unknown, path: string): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw TributaryError.invalidArgument(`${path} is not a finite number`);
      return;
    case 'object':
      if (value === null) return;
      if (Array.isArray(value)) {
        value.forEach((item, i) => checkJsonValue(item, `${path}[${i}]`));
        return;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
        throw TributaryError.invalidArgument(`${path} is not a plain object`);
      }
      for (const [k, v] of Object.entries(value)) {
        if (v !== undefined) checkJsonValue(v, `${path}.${k}`);
      }
      return;
    default:
      throw TributaryError.invalidArgument(`${path} is not a JSON value`);
  }
}
