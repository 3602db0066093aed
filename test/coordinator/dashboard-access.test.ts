import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminService, type AdminServiceDeps } from '../../coordinator/src/api/admin-service.js';
import type { CallContext } from '../../coordinator/src/api/call.js';
import type { Principal } from '../../coordinator/src/auth/principal.js';
import { Permissions } from '../../coordinator/src/auth/grants.js';
import { DashboardSessions } from '../../coordinator/src/dashboard/sessions.js';
import { LevelStateStore } from '../../coordinator/src/state/index.js';

function ctx(principal: Principal): CallContext {
  return { principal, signal: new AbortController().signal, method: '/tributary.v1.AdminService/CreateDashboardSession' };
}

const owner = { name: 'owner', groups: [], owner: true };
const admin: Principal = { role: 'admin', keyId: 'admin-key', ...owner, permissions: Permissions.of(owner, []) };
const reader = { name: 'alice', groups: [], owner: false };
const narrowReader: Principal = {
  role: 'admin',
  keyId: 'alice-key',
  ...reader,
  permissions: Permissions.of(reader, [{ privilege: 'read', federation: 'f', granteeKind: 'principal', granteeName: 'alice', grantedBy: 'owner', grantedAtMs: 0 }]),
};
const site: Principal = {
  role: 'site',
  keyId: 'site-key',
  site: { name: 's', keyId: 'site-key', publicKey: '', status: 'APPROVED', federations: ['f'], createdAtMs: 0, revokedAtMs: 0 },
};

describe('CreateDashboardSession', () => {
  let dir: string;
  let state: LevelStateStore;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-dashboard-access-'));
    state = new LevelStateStore(dir);
    await state.open();
  });
  afterAll(async () => {
    await state.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers FAILED_PRECONDITION when the dashboard is off', async () => {
    const handlers = adminService({} as AdminServiceDeps);
    await expect(handlers.CreateDashboardSession({}, ctx(admin))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
  });

  it('refuses a site key with PERMISSION_DENIED', async () => {
    const sessions = await DashboardSessions.open(state.dashboardSessionTable());
    const handlers = adminService({ dashboard: { createLogin: (keyId) => ({ ...sessions.createLogin(keyId), httpPort: 1, loginPath: '/login', https: false }) } } as AdminServiceDeps);
    await expect(handlers.CreateDashboardSession({}, ctx(site))).rejects.toMatchObject({ reason: 'PERMISSION_DENIED' });
  });

  it('refuses a principal that may read only some federations, since the dashboard shows all', async () => {
    const sessions = await DashboardSessions.open(state.dashboardSessionTable());
    const handlers = adminService({ dashboard: { createLogin: (keyId) => ({ ...sessions.createLogin(keyId), httpPort: 1, loginPath: '/login', https: false }) } } as AdminServiceDeps);
    await expect(handlers.CreateDashboardSession({}, ctx(narrowReader))).rejects.toMatchObject({ reason: 'PERMISSION_DENIED' });
  });

  it('hands an admin a login for its own key', async () => {
    const sessions = await DashboardSessions.open(state.dashboardSessionTable());
    const handlers = adminService({ dashboard: { createLogin: (keyId) => ({ ...sessions.createLogin(keyId), httpPort: 1, loginPath: '/login', https: false }) } } as AdminServiceDeps);
    const login = await handlers.CreateDashboardSession({}, ctx(admin));
    expect((await sessions.redeem(login.token ?? ''))?.session.keyId).toBe('admin-key');
  });
});
