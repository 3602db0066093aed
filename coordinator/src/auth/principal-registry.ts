import { EVERY_FEDERATION, Reason, TributaryError, assertName, formatGrantee, formatPublicKey, formatResource, keyIdOf, parsePublicKey, quoted, type GrantSpec } from '@tributary/proto';
import type { Logger } from 'pino';
import { SerialQueues } from '../rounds/serial-queues.js';
import type { GrantRecord, PrincipalRecord, StateStore } from '../state/index.js';
import { Permissions, grantApplies } from './grants.js';

/** Most groups one principal may be in. */
export const MAX_GROUPS = 32;
/** Longest description of a principal, in characters. */
export const MAX_DESCRIPTION_CHARS = 200;
/** Most principals and most grants the coordinator keeps, so the tables read per call stay small. */
export const MAX_PRINCIPALS = 10_000;
export const MAX_GRANTS = 10_000;

/** An admin-side key the coordinator knows: an owner's, or a principal's. */
export interface AdminKey {
  readonly name: string;
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  readonly groups: readonly string[];
  readonly owner: boolean;
  readonly disabled: boolean;
}

/** A principal as listed: a stored one, or an owner from the start-up configuration. */
export type PrincipalView = PrincipalRecord & { readonly owner: boolean };

/**
 * The admin-side keys: the owners (the bootstrap keys of the start-up configuration, holding
 * admin on federation:*, never stored) and the principals added at run time, with their grants,
 * in the state store. Principals are read from the store on every call and grants are kept in
 * memory from the store, read again after each change made here (the only writer of grants), so a
 * change holds from the next call on.
 */
export class PrincipalRegistry {
  private readonly owners: ReadonlyMap<string, AdminKey>;
  // Check-then-write changes of principals and grants run one at a time.
  private readonly writes = new SerialQueues();
  /** The stored grants, as of the last change; undefined until read. */
  private grantList: Promise<GrantRecord[]> | undefined;

  constructor(
    private readonly opts: {
      state: StateStore;
      /** Raw 32-byte Ed25519 public keys of the owners, named `owner` (or `owner-1`, `owner-2`, ... for several). */
      ownerKeys: readonly Uint8Array[];
      logger: Logger;
      now?: () => number;
    },
  ) {
    const several = opts.ownerKeys.length > 1;
    this.owners = new Map(
      opts.ownerKeys.map((publicKey, i) => {
        const keyId = keyIdOf(publicKey);
        return [keyId, { name: several ? `owner-${i + 1}` : 'owner', keyId, publicKey, groups: [], owner: true, disabled: false }];
      }),
    );
  }

  /** The admin-side key with this id, disabled or not; `undefined` when it is no principal's. */
  async adminKey(keyId: string): Promise<AdminKey | undefined> {
    const owner = this.owners.get(keyId);
    if (owner !== undefined) return owner;
    const p = await this.opts.state.getPrincipalByKeyId(keyId);
    if (p === undefined) return undefined;
    return { name: p.name, keyId, publicKey: parsePublicKey(p.publicKey), groups: p.groups, owner: false, disabled: p.status === 'DISABLED' };
  }

  /** What an admin-side key may do, from the grants stored now (owners hold admin on `*` whatever they are granted). */
  async permissionsOf(key: AdminKey): Promise<Permissions> {
    return Permissions.of(key, key.owner ? [] : await this.storedGrants());
  }

  private storedGrants(): Promise<GrantRecord[]> {
    this.grantList ??= this.opts.state.listGrants().catch((err: unknown) => {
      this.grantList = undefined;
      throw err;
    });
    return this.grantList;
  }

  /** Owners first (in configuration order), then the stored principals by name. */
  async list(): Promise<PrincipalView[]> {
    const owners = [...this.owners.values()].map(
      (o): PrincipalView => ({
        name: o.name,
        keyId: o.keyId,
        publicKey: formatPublicKey(o.publicKey),
        groups: [],
        status: 'ACTIVE',
        description: 'bootstrap owner key from the coordinator configuration',
        createdAtMs: 0,
        disabledAtMs: 0,
        rotatedAtMs: 0,
        addedBy: '',
        owner: true,
      }),
    );
    const stored = (await this.opts.state.listPrincipals()).map((p): PrincipalView => ({ ...p, owner: false }));
    return [...owners, ...stored];
  }

  add(req: { name: string; publicKey: Uint8Array; groups: readonly string[]; description: string }, by: string): Promise<PrincipalView> {
    const name = assertName('principal', req.name);
    const keyId = checkPublicKey(req.publicKey);
    if (req.groups.length > MAX_GROUPS) throw TributaryError.invalidArgument(`a principal is in at most ${MAX_GROUPS} groups (got ${req.groups.length})`);
    const groups = [...new Set(req.groups.map((g) => assertName('group', g)))];
    if (req.description.length > MAX_DESCRIPTION_CHARS) throw TributaryError.invalidArgument(`description is longer than ${MAX_DESCRIPTION_CHARS} characters`);
    return this.writes.run('principals', async () => {
      this.checkNotOwner(name, keyId);
      if ((await this.opts.state.getPrincipal(name)) !== undefined) throw TributaryError.of(Reason.ALREADY_EXISTS, `principal "${name}" already exists`);
      if ((await this.opts.state.listPrincipals()).length >= MAX_PRINCIPALS) {
        throw TributaryError.of(Reason.RESOURCE_EXHAUSTED, `the coordinator keeps at most ${MAX_PRINCIPALS} principals`);
      }
      const record: PrincipalRecord = {
        name,
        keyId,
        publicKey: formatPublicKey(req.publicKey),
        groups,
        status: 'ACTIVE',
        description: req.description,
        createdAtMs: this.now(),
        disabledAtMs: 0,
        rotatedAtMs: 0,
        addedBy: by,
      };
      await this.opts.state.write([{ kind: 'principal', value: record }]);
      this.opts.logger.info({ principal: name, keyId, groups, by }, 'principal added');
      return { ...record, owner: false };
    });
  }

  /** Refuses the principal's calls from the next one on; disabling twice changes nothing. */
  disable(name: string, by: string): Promise<PrincipalView> {
    return this.writes.run('principals', async () => {
      const principal = await this.stored(name);
      if (principal.status === 'DISABLED') return { ...principal, owner: false };
      const disabled: PrincipalRecord = { ...principal, status: 'DISABLED', disabledAtMs: this.now() };
      await this.opts.state.write([{ kind: 'principal', value: disabled }]);
      this.opts.logger.warn({ principal: principal.name, keyId: principal.keyId, by }, 'principal disabled');
      return { ...disabled, owner: false };
    });
  }

  /** Replaces the principal's key: the old one is unknown from the next call on. */
  rotate(name: string, publicKey: Uint8Array, by: string): Promise<PrincipalView> {
    const keyId = checkPublicKey(publicKey);
    return this.writes.run('principals', async () => {
      const principal = await this.stored(name);
      if (principal.status === 'DISABLED') {
        throw TributaryError.of(Reason.PRINCIPAL_DISABLED, `principal "${principal.name}" is disabled`, { code: 'FAILED_PRECONDITION' });
      }
      if (principal.keyId === keyId) throw TributaryError.invalidArgument(`principal "${principal.name}" already has key ${keyId}`);
      this.checkNotOwner(principal.name, keyId);
      const rotated: PrincipalRecord = { ...principal, keyId, publicKey: formatPublicKey(publicKey), rotatedAtMs: this.now() };
      await this.opts.state.write([{ kind: 'principal', value: rotated }]);
      this.opts.logger.warn({ principal: principal.name, oldKeyId: principal.keyId, keyId, by }, 'principal key rotated');
      return { ...rotated, owner: false };
    });
  }

  /** Records a grant; granting what is already granted changes nothing. */
  grant(spec: GrantSpec, by: string): Promise<GrantRecord> {
    return this.writes.run('principals', async () => {
      const grants = await this.storedGrants();
      const existing = grants.find((g) => sameGrant(g, spec));
      if (existing !== undefined) return existing;
      if (grants.length >= MAX_GRANTS) throw TributaryError.of(Reason.RESOURCE_EXHAUSTED, `the coordinator keeps at most ${MAX_GRANTS} grants`);
      if (spec.grantee.kind === 'principal') await this.requirePrincipal(spec.grantee.name);
      if (spec.federation !== EVERY_FEDERATION && (await this.opts.state.getFederation(spec.federation)) === undefined) {
        throw TributaryError.notFound(`federation ${quoted(spec.federation)} does not exist`);
      }
      const record: GrantRecord = {
        privilege: spec.privilege,
        federation: spec.federation,
        granteeKind: spec.grantee.kind,
        granteeName: spec.grantee.name,
        grantedBy: by,
        grantedAtMs: this.now(),
      };
      await this.opts.state.write([{ kind: 'grant', value: record }]);
      // After the write: a read that overlapped it may hold the list from before.
      this.grantList = undefined;
      this.opts.logger.info({ privilege: spec.privilege, resource: formatResource(spec.federation), grantee: formatGrantee(spec.grantee), by }, 'privilege granted');
      return record;
    });
  }

  /** Removes one grant; NOT_FOUND when there is no such grant. */
  revoke(spec: GrantSpec, by: string): Promise<GrantRecord> {
    return this.writes.run('principals', async () => {
      const existing = (await this.storedGrants()).find((g) => sameGrant(g, spec));
      if (existing === undefined) {
        throw TributaryError.notFound(`${formatGrantee(spec.grantee)} has no ${spec.privilege} grant on ${formatResource(spec.federation)}`);
      }
      await this.opts.state.write([{ kind: 'grantRemoved', value: existing }]);
      this.grantList = undefined;
      this.opts.logger.warn({ privilege: spec.privilege, resource: formatResource(spec.federation), grantee: formatGrantee(spec.grantee), by }, 'privilege revoked');
      return existing;
    });
  }

  /**
   * Grants that apply to `principal` (directly or through its groups) when given, on a resource
   * that covers `federation` (it, or `*`) when given.
   */
  async grants(filter: { principal?: string; federation?: string }): Promise<GrantRecord[]> {
    let grants = await this.storedGrants();
    if (filter.principal !== undefined) {
      const who = await this.holderNamed(filter.principal);
      grants = grants.filter((g) => grantApplies(g, who));
    }
    const federation = filter.federation;
    if (federation !== undefined) grants = grants.filter((g) => g.federation === EVERY_FEDERATION || g.federation === federation);
    return grants;
  }

  private async holderNamed(name: string): Promise<{ name: string; groups: readonly string[] }> {
    const owner = [...this.owners.values()].find((o) => o.name === name);
    return owner ?? (await this.requirePrincipal(name));
  }

  private async requirePrincipal(name: string): Promise<PrincipalRecord> {
    const principal = await this.opts.state.getPrincipal(assertName('principal', name));
    if (principal === undefined) throw TributaryError.notFound(`principal "${name}" does not exist`);
    return principal;
  }

  /** A stored principal; owners are refused, as the configuration, not the API, manages them. */
  private async stored(name: string): Promise<PrincipalRecord> {
    assertName('principal', name);
    if ([...this.owners.values()].some((o) => o.name === name)) {
      throw TributaryError.of(Reason.FAILED_PRECONDITION, `"${name}" is an owner key of the coordinator configuration: change the admin keys there and restart`);
    }
    return this.requirePrincipal(name);
  }

  private checkNotOwner(name: string, keyId: string): void {
    for (const owner of this.owners.values()) {
      if (owner.name === name) throw TributaryError.of(Reason.ALREADY_EXISTS, `"${name}" is the name of an owner key`);
      if (owner.keyId === keyId) throw TributaryError.of(Reason.ALREADY_EXISTS, `key ${keyId} is an owner key`);
    }
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}

function checkPublicKey(publicKey: Uint8Array): string {
  if (publicKey.byteLength !== 32) throw TributaryError.invalidArgument('public_key must be the raw 32-byte Ed25519 public key');
  return keyIdOf(publicKey);
}

function sameGrant(g: GrantRecord, spec: GrantSpec): boolean {
  return g.privilege === spec.privilege && g.federation === spec.federation && g.granteeKind === spec.grantee.kind && g.granteeName === spec.grantee.name;
}
