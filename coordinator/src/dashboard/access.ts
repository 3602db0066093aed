import { EVERY_FEDERATION, Reason, TributaryError } from '@tributary/proto';
import type { Principal } from '../auth/principal.js';
import type { PrincipalRegistry } from '../auth/principal-registry.js';

/** The privilege a key needs to open the dashboard, which only reads (every federation it shows). */
export const DASHBOARD_PRIVILEGE = 'read';

/** Throws PERMISSION_DENIED unless `principal` may read every federation, which the dashboard shows. */
export function requireDashboardAccess(principal: Principal): void {
  if (principal.role === 'admin' && principal.permissions.can(DASHBOARD_PRIVILEGE, EVERY_FEDERATION)) return;
  throw TributaryError.of(Reason.PERMISSION_DENIED, `the dashboard needs ${DASHBOARD_PRIVILEGE} on federation:*`);
}

/**
 * Why the holder of `keyId` may no longer use a dashboard session (removed, disabled, or no
 * longer allowed to read every federation), or undefined while it may: sessions outlive
 * restarts, so each request asks again.
 */
export async function dashboardAccessLost(principals: Pick<PrincipalRegistry, 'adminKey' | 'permissionsOf'>, keyId: string): Promise<string | undefined> {
  const key = await principals.adminKey(keyId);
  if (key === undefined) return 'the principal of this session no longer exists';
  if (key.disabled) return `principal "${key.name}" is disabled`;
  if (!(await principals.permissionsOf(key)).can(DASHBOARD_PRIVILEGE, EVERY_FEDERATION)) return `principal "${key.name}" may no longer read federation:*`;
  return undefined;
}
