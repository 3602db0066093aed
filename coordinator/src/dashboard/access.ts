import type { Principal } from '../auth/principal.js';
import { requireAdmin } from '../auth/principal.js';

/**
 * The privilege a key needs to open the dashboard, which only reads. Until grants exist this is
 * an admin key; narrow `requireDashboardAccess` to the `read` grant when they do.
 */
export const DASHBOARD_PRIVILEGE = 'read';

/** Throws PERMISSION_DENIED unless `principal` may read what the dashboard shows. */
export function requireDashboardAccess(principal: Principal): void {
  requireAdmin(principal);
}
