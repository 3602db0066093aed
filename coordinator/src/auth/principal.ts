import { Reason, TributaryError, quoted } from '@tributary/proto';
import type { SiteRecord } from '../state/index.js';
import type { Permissions } from './grants.js';

/** Who made a call, once its signature is verified. */
export type Principal =
  /**
   * An admin-side key: an owner from the start-up configuration or a principal added at run
   * time, with what its grants (and its groups') allow as they stood when the call arrived.
   */
  | {
      readonly role: 'admin';
      readonly keyId: string;
      readonly name: string;
      readonly groups: readonly string[];
      readonly owner: boolean;
      readonly permissions: Permissions;
    }
  | { readonly role: 'site'; readonly keyId: string; readonly site: SiteRecord }
  /**
   * A not-yet-known key redeeming an invitation (SiteService.Enroll only). Its nonce is not
   * recorded yet: `claimNonce()` records it (AUTH_REPLAYED on a replay) once the invitation is
   * found valid, so a bogus enrollment leaves nothing behind.
   */
  | { readonly role: 'enrolling'; readonly keyId: string; readonly publicKey: Uint8Array; readonly claimNonce: () => void };

/** The admin-side principal of a call; PERMISSION_DENIED for a site or enrolling key. */
export function requireAdminSide(p: Principal): Extract<Principal, { role: 'admin' }> {
  if (p.role !== 'admin') throw TributaryError.of(Reason.PERMISSION_DENIED, 'this call needs an admin-side key (a principal), not a site key');
  return p;
}

/** A site acting in a federation it belongs to, or a principal with read on it. */
export function requireMemberOrReader(p: Principal, federation: string): void {
  if (p.role === 'admin') return p.permissions.require('read', [federation]);
  if (p.role === 'site' && p.site.federations.includes(federation)) return;
  if (p.role === 'site') {
    throw TributaryError.of(Reason.NOT_A_MEMBER, `site "${p.site.name}" is not a member of federation ${quoted(federation)}`);
  }
  throw TributaryError.of(Reason.PERMISSION_DENIED, 'this call needs a site or admin-side key');
}

export function requireSiteMember(p: Principal, federation: string): SiteRecord {
  if (p.role !== 'site') throw TributaryError.of(Reason.PERMISSION_DENIED, 'this call needs a site key');
  requireMemberOrReader(p, federation);
  return p.site;
}
