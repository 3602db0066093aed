import { Reason, TributaryError, quoted } from '@tributary/proto';
import type { SiteRecord } from '../state/index.js';

/** Who made a call, once its signature is verified. */
export type Principal =
  | { readonly role: 'admin'; readonly keyId: string }
  | { readonly role: 'site'; readonly keyId: string; readonly site: SiteRecord }
  /**
   * A not-yet-known key redeeming an invitation (SiteService.Enroll only). Its nonce is not
   * recorded yet: `claimNonce()` records it (AUTH_REPLAYED on a replay) once the invitation is
   * found valid, so a bogus enrollment leaves nothing behind.
   */
  | { readonly role: 'enrolling'; readonly keyId: string; readonly publicKey: Uint8Array; readonly claimNonce: () => void };

export function requireAdmin(p: Principal): void {
  if (p.role !== 'admin') throw TributaryError.of(Reason.PERMISSION_DENIED, 'this call needs an admin key');
}

/** A site acting in a federation it belongs to, or an admin. */
export function requireMemberOrAdmin(p: Principal, federation: string): void {
  if (p.role === 'admin') return;
  if (p.role === 'site' && p.site.federations.includes(federation)) return;
  if (p.role === 'site') {
    throw TributaryError.of(Reason.NOT_A_MEMBER, `site "${p.site.name}" is not a member of federation ${quoted(federation)}`);
  }
  throw TributaryError.of(Reason.PERMISSION_DENIED, 'this call needs a site or admin key');
}

export function requireSiteMember(p: Principal, federation: string): SiteRecord {
  if (p.role !== 'site') throw TributaryError.of(Reason.PERMISSION_DENIED, 'this call needs a site key');
  requireMemberOrAdmin(p, federation);
  return p.site;
}

