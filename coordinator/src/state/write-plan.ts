import { Reason, TributaryError, isSha256Hex } from '@tributary/proto';
import { AFTER_SEP, SEP } from './level-layout.js';
import type { GrantRecord, PrincipalRecord, RunRecord, SiteRecord } from './records.js';
import type { InlineBlobWrite, StateWrite } from './store.js';

/** Splits a write's inline blobs (raw bytes, not records) from its records. */
export function splitInlineBlobs(ops: readonly StateWrite[]): { records: Array<Exclude<StateWrite, InlineBlobWrite>>; blobs: InlineBlobWrite[] } {
  const records: Array<Exclude<StateWrite, InlineBlobWrite>> = [];
  const blobs: InlineBlobWrite[] = [];
  for (const op of ops) {
    if (op.kind !== 'inlineBlob') records.push(op);
    else if (!isSha256Hex(op.sha256) || !(op.bytes instanceof Uint8Array)) throw TributaryError.invalidArgument(`invalid inline blob "${String(op.sha256)}": expected a lowercase hex SHA-256 and bytes`);
    else blobs.push(op);
  }
  return { records, blobs };
}

/**
 * The state store's tables: one per record kind, and the indexes kept beside them. Every state
 * store keeps the same tables under the same keys, so they answer listings in the same order.
 */
export type StateTable =
  | 'sites'
  /** keyId -> site name. */
  | 'siteKeys'
  | 'federations'
  /** name -> deleted federation. */
  | 'deletedFederations'
  | 'runs'
  /** federation, reversed start time, run id -> run id. */
  | 'runsByFederation'
  /** reversed start time, run id -> run id. */
  | 'runsByStart'
  /** run id, zero-padded round number -> round. */
  | 'rounds'
  | 'updates'
  /** federation, zero-padded version -> model version. */
  | 'modelVersions'
  | 'invitations'
  | 'principals'
  /** keyId -> principal name. */
  | 'principalKeys'
  /** federation (or `*`), grantee kind, grantee name, privilege -> grant. */
  | 'grants';

export const STATE_TABLES: readonly StateTable[] = [
  'sites',
  'siteKeys',
  'federations',
  'deletedFederations',
  'runs',
  'runsByFederation',
  'runsByStart',
  'rounds',
  'updates',
  'modelVersions',
  'invitations',
  'principals',
  'principalKeys',
  'grants',
];

/** One change to one table; a write is a list of them, applied together or not at all. */
export type TableOp =
  | { readonly type: 'put'; readonly table: StateTable; readonly key: string; readonly value: unknown }
  | { readonly type: 'del'; readonly table: StateTable; readonly key: string };

/** What planning a write reads of the records it replaces, to keep the indexes right. */
export interface StoredRecords {
  site(name: string): Promise<SiteRecord | undefined>;
  keyOwner(keyId: string): Promise<string | undefined>;
  run(runId: string): Promise<RunRecord | undefined>;
  principal(name: string): Promise<PrincipalRecord | undefined>;
  principalKeyOwner(keyId: string): Promise<string | undefined>;
}

const ROUND_DIGITS = 10; // uint32
const SAFE_DIGITS = 16; // Number.MAX_SAFE_INTEGER

/**
 * Turns records to write into table changes, index upkeep included: validates every record (keys,
 * finite JSON values) and throws INVALID_ARGUMENT, or ALREADY_EXISTS for a key id another site or
 * principal holds (a key is a site's or a principal's, never both), before anything is changed. Records replaced earlier in the same write count as stored.
 */
export async function planWrites(ops: ReadonlyArray<Exclude<StateWrite, InlineBlobWrite>>, stored: StoredRecords): Promise<TableOp[]> {
  const plan: TableOp[] = [];
  const pendingSites = new Map<string, SiteRecord>();
  const pendingRuns = new Map<string, RunRecord>();
  const pendingKeyOwners = new Map<string, string | undefined>();
  const pendingPrincipals = new Map<string, PrincipalRecord>();
  const pendingPrincipalKeyOwners = new Map<string, string | undefined>();
  const siteOwning = async (keyId: string) => (pendingKeyOwners.has(keyId) ? pendingKeyOwners.get(keyId) : await stored.keyOwner(keyId));
  const principalOwning = async (keyId: string) =>
    pendingPrincipalKeyOwners.has(keyId) ? pendingPrincipalKeyOwners.get(keyId) : await stored.principalKeyOwner(keyId);
  const put = (table: StateTable, key: string, value: unknown): void => {
    plan.push({ type: 'put', table, key, value });
  };
  const del = (table: StateTable, key: string): void => {
    plan.push({ type: 'del', table, key });
  };

  for (const op of ops) {
    checkJsonValue(op.value, op.kind);
    switch (op.kind) {
      case 'site': {
        const site = op.value;
        const name = keyPart('site', 'name', site.name);
        const keyId = keyPart('site', 'keyId', site.keyId);
        const previous = pendingSites.get(name) ?? (await stored.site(name));
        if (previous !== undefined && previous.keyId !== keyId) {
          del('siteKeys', previous.keyId);
          pendingKeyOwners.set(previous.keyId, undefined);
        }
        const owner = await siteOwning(keyId);
        if (owner !== undefined && owner !== name) {
          throw TributaryError.of(Reason.ALREADY_EXISTS, `key ${keyId} already belongs to site "${owner}"`);
        }
        const principal = await principalOwning(keyId);
        if (principal !== undefined) throw TributaryError.of(Reason.ALREADY_EXISTS, `key ${keyId} already belongs to principal "${principal}"`);
        put('siteKeys', keyId, name);
        put('sites', name, site);
        pendingSites.set(name, site);
        pendingKeyOwners.set(keyId, name);
        break;
      }
      case 'federation':
        put('federations', keyPart('federation', 'name', op.value.name), op.value);
        break;
      case 'federationDeleted': {
        const name = keyPart('federation', 'name', op.value.name);
        del('federations', name);
        put('deletedFederations', name, op.value);
        break;
      }
      case 'run': {
        const run = op.value;
        const id = keyPart('run', 'id', run.id);
        const federation = keyPart('run', 'federation', run.federation);
        const started = counter('run', 'startedAtMs', run.startedAtMs, Number.MAX_SAFE_INTEGER);
        const previous = pendingRuns.get(id) ?? (await stored.run(id));
        if (previous !== undefined && (previous.federation !== federation || previous.startedAtMs !== started)) {
          del('runsByFederation', runByFederationKey(previous));
          del('runsByStart', runByStartKey(previous));
        }
        put('runsByFederation', runByFederationKey(run), id);
        put('runsByStart', runByStartKey(run), id);
        put('runs', id, run);
        pendingRuns.set(id, run);
        break;
      }
      case 'round':
        put('rounds', roundKey(op.value.runId, op.value.number), op.value);
        break;
      case 'update':
        put('updates', keyPart('update', 'updateId', op.value.updateId), op.value);
        break;
      case 'modelVersion':
        put('modelVersions', modelVersionKey(op.value.federation, op.value.version), op.value);
        break;
      case 'invitation':
        put('invitations', keyPart('invitation', 'tokenSha256', op.value.tokenSha256), op.value);
        break;
      case 'principal': {
        const principal = op.value;
        const name = keyPart('principal', 'name', principal.name);
        const keyId = keyPart('principal', 'keyId', principal.keyId);
        const previous = pendingPrincipals.get(name) ?? (await stored.principal(name));
        if (previous !== undefined && previous.keyId !== keyId) {
          del('principalKeys', previous.keyId);
          pendingPrincipalKeyOwners.set(previous.keyId, undefined);
        }
        const owner = await principalOwning(keyId);
        if (owner !== undefined && owner !== name) {
          throw TributaryError.of(Reason.ALREADY_EXISTS, `key ${keyId} already belongs to principal "${owner}"`);
        }
        const site = await siteOwning(keyId);
        if (site !== undefined) throw TributaryError.of(Reason.ALREADY_EXISTS, `key ${keyId} already belongs to site "${site}"`);
        put('principalKeys', keyId, name);
        put('principals', name, principal);
        pendingPrincipals.set(name, principal);
        pendingPrincipalKeyOwners.set(keyId, name);
        break;
      }
      case 'grant':
        put('grants', grantKey(op.value), op.value);
        break;
      case 'grantRemoved':
        del('grants', grantKey(op.value));
        break;
      default:
        throw TributaryError.invalidArgument(`unknown state record kind "${String((op as { kind?: unknown }).kind)}"`);
    }
  }
  return plan;
}

/** The key of a round in `rounds`: listing a run's keys in order lists its rounds ascending. */
export function roundKey(runId: string, round: number): string {
  return keyPart('round', 'runId', runId) + SEP + padded(counter('round', 'number', round, 0xffff_ffff), ROUND_DIGITS);
}

/** The key of a model version in `modelVersions`: ascending by version within a federation. */
export function modelVersionKey(federation: string, version: number): string {
  return (
    keyPart('modelVersion', 'federation', federation) +
    SEP +
    padded(counter('modelVersion', 'version', version, Number.MAX_SAFE_INTEGER), SAFE_DIGITS)
  );
}

/** The key of a grant in `grants`: one per privilege, federation and grantee; a federation's grants sort together. */
export function grantKey(grant: GrantRecord): string {
  return [
    keyPart('grant', 'federation', grant.federation),
    keyPart('grant', 'granteeKind', grant.granteeKind),
    keyPart('grant', 'granteeName', grant.granteeName),
    keyPart('grant', 'privilege', grant.privilege),
  ].join(SEP);
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
