import { Reason, TributaryError, assertName, quoted } from '@tributary/proto';
import type { GrantRecord, Privilege } from '../state/index.js';

/** Privileges in rising order: each implies the ones before it. */
export const PRIVILEGES: readonly Privilege[] = ['read', 'operate', 'admin'];

/** The federation part of `federation:*`: every federation, present and future. */
export const EVERY_FEDERATION = '*';

/** Who a grant is given to: `principal:<name>` or `group:<name>`. */
export interface Grantee {
  readonly kind: 'principal' | 'group';
  readonly name: string;
}

/** What a grant says, before it is recorded. */
export interface GrantSpec {
  readonly privilege: Privilege;
  /** A federation name, or `*`. */
  readonly federation: string;
  readonly grantee: Grantee;
}

const rank = (p: Privilege): number => PRIVILEGES.indexOf(p);

export function parsePrivilege(text: unknown): Privilege {
  const found = PRIVILEGES.find((p) => p === text);
  if (found === undefined) throw TributaryError.invalidArgument(`invalid privilege ${quoted(text)}: one of ${PRIVILEGES.join(', ')}`);
  return found;
}

/** `federation:<name>` or `federation:*` -> the federation name, or `*`. */
export function parseResource(text: unknown): string {
  if (typeof text !== 'string' || !text.startsWith('federation:')) {
    throw TributaryError.invalidArgument(`invalid resource ${quoted(text)}: federation:<name> or federation:*`);
  }
  const federation = text.slice('federation:'.length);
  return federation === EVERY_FEDERATION ? federation : assertName('federation', federation);
}

/** The resource a federation name (or `*`) stands for. */
export function formatResource(federation: string): string {
  return `federation:${federation}`;
}

/** `principal:<name>` or `group:<name>`. */
export function parseGrantee(text: unknown): Grantee {
  const colon = typeof text === 'string' ? text.indexOf(':') : -1;
  const kind = colon < 0 ? '' : (text as string).slice(0, colon);
  if (kind !== 'principal' && kind !== 'group') throw TributaryError.invalidArgument(`invalid grantee ${quoted(text)}: principal:<name> or group:<name>`);
  return { kind, name: assertName(kind, (text as string).slice(colon + 1)) };
}

export function formatGrantee(grantee: Grantee): string {
  return `${grantee.kind}:${grantee.name}`;
}

/** A grant as the wire spells it. */
export function parseGrantSpec(req: { privilege: unknown; resource: unknown; grantee: unknown }): GrantSpec {
  return { privilege: parsePrivilege(req.privilege), federation: parseResource(req.resource), grantee: parseGrantee(req.grantee) };
}

/** Whether a grant is given to the principal `name` in `groups`, directly or through a group. */
export function grantApplies(grant: GrantRecord, who: { readonly name: string; readonly groups: readonly string[] }): boolean {
  return grant.granteeKind === 'principal' ? grant.granteeName === who.name : who.groups.includes(grant.granteeName);
}

/**
 * What one principal may do: the highest privilege it holds on each federation and on `*`, from
 * its own grants and its groups'. Owners hold admin on `*`.
 */
export class Permissions {
  private constructor(
    readonly principal: string,
    /** Federation name or `*` -> rank of the highest privilege held there. */
    private readonly held: ReadonlyMap<string, number>,
  ) {}

  static of(who: { readonly name: string; readonly groups: readonly string[]; readonly owner: boolean }, grants: readonly GrantRecord[]): Permissions {
    const held = new Map<string, number>();
    if (who.owner) held.set(EVERY_FEDERATION, rank('admin'));
    for (const grant of grants) {
      if (!grantApplies(grant, who)) continue;
      held.set(grant.federation, Math.max(held.get(grant.federation) ?? -1, rank(grant.privilege)));
    }
    return new Permissions(who.name, held);
  }

  /** Whether `privilege` is held on `federation` (a name, or `*` for every federation). */
  can(privilege: Privilege, federation: string): boolean {
    const needed = rank(privilege);
    if ((this.held.get(EVERY_FEDERATION) ?? -1) >= needed) return true;
    return federation !== EVERY_FEDERATION && (this.held.get(federation) ?? -1) >= needed;
  }

  /** Whether `privilege` is held on at least one federation. */
  canAnywhere(privilege: Privilege): boolean {
    const needed = rank(privilege);
    for (const r of this.held.values()) if (r >= needed) return true;
    return false;
  }

  /** PERMISSION_DENIED unless `privilege` is held on every one of `federations`. */
  require(privilege: Privilege, federations: readonly string[]): void {
    const lacking = federations.find((f) => !this.can(privilege, f));
    if (lacking !== undefined) throw denied(this.principal, privilege, formatResource(lacking));
  }

  /** PERMISSION_DENIED unless `privilege` is held on at least one federation. */
  requireAnywhere(privilege: Privilege): void {
    if (!this.canAnywhere(privilege)) throw denied(this.principal, privilege, 'a federation');
  }
}

/** The one-line refusal of a call for want of a privilege. */
function denied(principal: string, privilege: Privilege, resource: string): TributaryError {
  return TributaryError.of(Reason.PERMISSION_DENIED, `principal "${principal}" needs ${privilege} on ${resource}`, { details: { privilege, resource } });
}
