import { EVERY_FEDERATION, Reason, TributaryError } from '@tributary/proto';
import type { Principal } from '../auth/principal.js';

/** The privilege a key needs to open the dashboard, which only reads (every federation it shows). */
export const DASHBOARD_PRIVILEGE = 'read';

/** Throws PERMISSION_DENIED unless `principal` may read every federation, which the dashboard shows. */
export function requireDashboardAccess(principal: Principal): void {
  if (principal.role === 'admin' && principal.permissions.can(DASHBOARD_PRIVILEGE, EVERY_FEDERATION)) return;
  throw TributaryError.of(Reason.PERMISSION_DENIED, `the dashboard needs ${DASHBOARD_PRIVILEGE} on federation:*`);
}
