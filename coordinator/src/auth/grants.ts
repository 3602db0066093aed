import { EVERY_FEDERATION, PRIVILEGES, Reason, TributaryError, formatResource, type Privilege } from '@tributary/proto';
import type { GrantRecord } from '../state/index.js';

const rank = (p: Privilege): number => PRIVILEGES.indexOf(p);

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
