import { createUser } from '@nats-io/nkeys';
import { AdminClient } from '@tributary/coordinator';
import { encodeSafetensors, generateSigningKey, serviceDefinition, TributaryError, type SigningKey } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSite, startStack, type Stack } from '../helpers/stack.js';
import { toyModel } from '../helpers/training.js';
import { methodEffect } from '../../coordinator/src/audit/methods.js';

type Privilege = 'read' | 'operate' | 'admin';
/** Where a principal's one grant is: the federation the calls act on, another one, or every one. */
type Place = 'churn' | 'fraud' | '*';
/** What a call needs its privilege on: churn; any federation (listings); or every federation. */
type Needs = { privilege: Privilege; on: 'churn' | 'any' | '*' };

const RANK: Record<Privilege, number> = { read: 0, operate: 1, admin: 2 };

/** Whether a principal holding `held` (or nothing) may make a call that needs `needs`. */
function allowed(held: { privilege: Privilege; on: Place } | undefined, needs: Needs): boolean {
  if (held === undefined || RANK[held.privilege] < RANK[needs.privilege]) return false;
  if (needs.on === 'any' || held.on === '*') return true;
  return needs.on === 'churn' && held.on === 'churn';
}

let counter = 0;
const fresh = (prefix: string) => `${prefix}-${++counter}`;

/**
 * One call of every AdminService method, what it needs, and how to make it as `client` (the
 * principal under test); `owner` sets up what the call acts on. Listings are called without a
 * filter, so they need read on any federation.
 */
interface MethodCase {
  needs: Needs;
  call(client: AdminClient, owner: AdminClient, fixtures: Fixtures): Promise<unknown>;
}

interface Fixtures {
  runId: string;
}

const CASES: Record<string, MethodCase> = {
  // A new federation's name has no grants yet: only admins of federation:* may create one.
  CreateFederation: { needs: { privilege: 'admin', on: '*' }, call: (c) => c.createFederation({ name: fresh('fed'), initialModel: encodeSafetensors(toyModel()) }) },
  GetFederation: { needs: { privilege: 'read', on: 'churn' }, call: (c) => c.getFederation('churn') },
  ListFederations: { needs: { privilege: 'read', on: 'any' }, call: (c) => c.listFederations() },
  AddSite: {
    needs: { privilege: 'operate', on: 'churn' },
    call: (c) => c.addSite({ name: fresh('site'), publicKey: generateSigningKey('s').publicKey, federations: ['churn'] }),
  },
  ListSites: { needs: { privilege: 'read', on: 'any' }, call: (c) => c.listSites() },
  RevokeSite: {
    needs: { privilege: 'operate', on: 'churn' },
    call: async (c, owner) => {
      const site = await owner.addSite({ name: fresh('site'), publicKey: generateSigningKey('s').publicKey, federations: ['churn'] });
      return c.revokeSite(site.name);
    },
  },
  IssueSiteNatsCredentials: {
    needs: { privilege: 'operate', on: 'churn' },
    call: async (c, owner) => {
      const site = await owner.addSite({ name: fresh('site'), publicKey: generateSigningKey('s').publicKey, federations: ['churn'] });
      return c.issueSiteNatsCredentials({ site: site.name, userPublicKey: createUser().getPublicKey() });
    },
  },
  CreateInvitation: { needs: { privilege: 'operate', on: 'churn' }, call: (c) => c.createInvitation({ federations: ['churn'] }) },
  StartRun: {
    needs: { privilege: 'operate', on: 'churn' },
    call: async (c, owner) => {
      const run = await c.startRun('churn');
      await owner.stopRun(run.id);
      return run;
    },
  },
  StopRun: {
    needs: { privilege: 'operate', on: 'churn' },
    call: async (c, owner) => {
      const run = await owner.startRun('churn');
      try {
        return await c.stopRun(run.id);
      } finally {
        await owner.stopRun(run.id);
      }
    },
  },
  GetRun: { needs: { privilege: 'read', on: 'churn' }, call: (c, _o, f) => c.getRun(f.runId) },
  ListRuns: { needs: { privilege: 'read', on: 'any' }, call: (c) => c.listRuns() },
  WatchRun: {
    needs: { privilege: 'read', on: 'churn' },
    call: async (c, _o, f) => {
      const events = [];
      for await (const e of c.watchRun(f.runId)) events.push(e);
      return events;
    },
  },
  ListRounds: { needs: { privilege: 'read', on: 'churn' }, call: (c, _o, f) => c.listRounds(f.runId) },
  GetRound: { needs: { privilege: 'read', on: 'churn' }, call: (c, _o, f) => c.getRound(f.runId, 1) },
  ListModelVersions: { needs: { privilege: 'read', on: 'churn' }, call: (c) => c.listModelVersions('churn') },
  DownloadModel: { needs: { privilege: 'read', on: 'churn' }, call: (c) => c.downloadModel('churn') },
  CollectGarbage: { needs: { privilege: 'admin', on: 'churn' }, call: (c) => c.collectGarbage('churn') },
  UpdateFederation: { needs: { privilege: 'admin', on: 'churn' }, call: (c) => c.updateFederation({ name: 'churn', description: fresh('about churn') }) },
  // churn must outlive the matrix: its run is running, so an allowed call is refused FAILED_PRECONDITION (no force).
  DeleteFederation: {
    needs: { privilege: 'admin', on: 'churn' },
    call: async (c, owner) => {
      const run = await owner.startRun('churn');
      try {
        return await c.deleteFederation({ name: 'churn' });
      } finally {
        await owner.stopRun(run.id);
      }
    },
  },
  // A run id of no run of churn: an allowed call answers NOT_FOUND instead of waiting for points.
  WatchMetrics: {
    needs: { privilege: 'read', on: 'churn' },
    call: async (c) => {
      for await (const e of c.watchMetrics('churn', { runId: 'no-such-run' })) return e;
      return undefined;
    },
  },
  GetMetricHistory: { needs: { privilege: 'read', on: 'churn' }, call: (c, _o, f) => c.getMetricHistory('churn', 'loss', { runId: f.runId }) },
  SearchRuns: { needs: { privilege: 'read', on: 'churn' }, call: (c) => c.searchRuns('churn') },
  AddPrincipal: { needs: { privilege: 'admin', on: '*' }, call: (c) => c.addPrincipal({ name: fresh('p'), publicKey: generateSigningKey('p').publicKey }) },
  ListPrincipals: { needs: { privilege: 'admin', on: 'any' }, call: (c) => c.listPrincipals() },
  DisablePrincipal: {
    needs: { privilege: 'admin', on: '*' },
    call: async (c, owner) => c.disablePrincipal((await owner.addPrincipal({ name: fresh('p'), publicKey: generateSigningKey('p').publicKey })).name),
  },
  RotatePrincipalKey: {
    needs: { privilege: 'admin', on: '*' },
    call: async (c, owner) => {
      const p = await owner.addPrincipal({ name: fresh('p'), publicKey: generateSigningKey('p').publicKey });
      return c.rotatePrincipalKey(p.name, generateSigningKey('p').publicKey);
    },
  },
  GrantPrivilege: { needs: { privilege: 'admin', on: 'churn' }, call: (c) => c.grant({ privilege: 'read', resource: 'federation:churn', grantee: `group:${fresh('g')}` }) },
  RevokePrivilege: {
    needs: { privilege: 'admin', on: 'churn' },
    call: async (c, owner) => {
      const grantee = `group:${fresh('g')}`;
      await owner.grant({ privilege: 'read', resource: 'federation:churn', grantee });
      return c.revokeGrant({ privilege: 'read', resource: 'federation:churn', grantee });
    },
  },
  ListGrants: { needs: { privilege: 'read', on: 'churn' }, call: (c) => c.listGrants({ federation: 'churn' }) },
  // The dashboard shows every federation; this stack runs without it, so an allowed call hears it is off.
  ListAuditEntries: { needs: { privilege: 'admin', on: '*' }, call: async (c) => { const out = []; for await (const e of c.auditEntries({ limit: 1 })) out.push(e); return out; } },
  VerifyAuditLog: { needs: { privilege: 'admin', on: '*' }, call: (c) => c.verifyAuditLog() },
  CreateDashboardSession: { needs: { privilege: 'read', on: '*' }, call: (c) => c.createDashboardSession() },
  ListInvitations: { needs: { privilege: 'read', on: 'any' }, call: (c) => c.listInvitations() },
  RevokeInvitation: {
    needs: { privilege: 'operate', on: 'churn' },
    call: async (c, owner) => c.revokeInvitation((await owner.createInvitation({ federations: ['churn'] })).id),
  },
  RemoveSite: {
    needs: { privilege: 'operate', on: 'churn' },
    call: async (c, owner) => c.removeSite((await owner.addSite({ name: fresh('site'), publicKey: generateSigningKey('s').publicKey, federations: ['churn'] })).name),
  },
  // A revoked site keeps its memberships: restoring it needs operate on them.
  RestoreSite: {
    needs: { privilege: 'operate', on: 'churn' },
    call: async (c, owner) => {
      const site = await owner.addSite({ name: fresh('site'), publicKey: generateSigningKey('s').publicKey, federations: ['churn'] });
      await owner.revokeSite(site.name);
      return c.restoreSite(site.name);
    },
  },
  // This stack runs without aggregation workers, so an allowed call hears they are off.
  JoinAggregation: { needs: { privilege: 'read', on: '*' }, call: (c) => c.joinAggregation({ userPublicKey: createUser().getPublicKey() }) },
};

/** Calls that, when allowed, answer with this code rather than OK (see CASES). */
const ALLOWED_CODE: Record<string, string> = { WatchMetrics: 'NOT_FOUND', CreateDashboardSession: 'FAILED_PRECONDITION', JoinAggregation: 'FAILED_PRECONDITION', DeleteFederation: 'FAILED_PRECONDITION' };

const HOLDINGS: Array<{ privilege: Privilege; on: Place } | undefined> = [
  undefined,
  ...(['churn', 'fraud', '*'] as const).flatMap((on) => (['read', 'operate', 'admin'] as const).map((privilege) => ({ privilege, on }))),
];

describe('grants: every AdminService method against every privilege and place', () => {
  let stack: Stack;
  let fixtures: Fixtures;
  const principals: Array<{ label: string; held: (typeof HOLDINGS)[number]; client: AdminClient }> = [];

  beforeAll(async () => {
    stack = await startStack();
    for (const name of ['churn', 'fraud']) await stack.admin.createFederation({ name, initialModel: encodeSafetensors(toyModel()) });
    // A run needs min_sites (1) eligible members to start.
    await addSite(stack, 'member', ['churn']);
    const run = await stack.admin.startRun('churn');
    await stack.admin.stopRun(run.id);
    fixtures = { runId: run.id };
    for (const held of HOLDINGS) {
      const label = held === undefined ? 'none' : `${held.privilege}-on-${held.on === '*' ? 'all' : held.on}`;
      const key: SigningKey = generateSigningKey(label);
      await stack.admin.addPrincipal({ name: label, publicKey: key.publicKey });
      if (held !== undefined) await stack.admin.grant({ privilege: held.privilege, resource: `federation:${held.on}`, grantee: `principal:${label}` });
      principals.push({ label, held, client: new AdminClient({ address: stack.coordinator.address, key }) });
    }
  }, 120_000);

  afterAll(async () => {
    for (const p of principals) p.client.close();
    await stack?.stop();
  });

  it('has a case for every AdminService method', () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(serviceDefinition('AdminService')).sort());
  });

  it.each(Object.keys(CASES))('%s succeeds exactly for the principals whose grants allow it, and is refused PERMISSION_DENIED for the rest', async (method) => {
    const c = CASES[method] as MethodCase;
    const outcomes: Record<string, string> = {};
    const expected: Record<string, string> = {};
    for (const p of principals) {
      const code = await c.call(p.client, stack.admin, fixtures).then(
        () => 'OK',
        (err: unknown) => TributaryError.from(err).code,
      );
      outcomes[p.label] = code;
      expected[p.label] = allowed(p.held, c.needs) ? (ALLOWED_CODE[method] ?? 'OK') : 'PERMISSION_DENIED';
    }
    expect(outcomes).toEqual(expected);
    // Every denied call, and every state-changing call that succeeded, is in the audit log under its principal.
    const entries: Array<{ principalName: string; outcome: string }> = [];
    for await (const e of stack.admin.auditEntries()) if (e.method.endsWith(`/${method}`)) entries.push(e);
    const changes = methodEffect('AdminService', method) === 'change';
    for (const p of principals) {
      const wanted = outcomes[p.label] === 'PERMISSION_DENIED' ? 'denied' : outcomes[p.label] === 'OK' && changes ? 'ok' : undefined;
      if (wanted === undefined) continue;
      expect(entries, `${method} by ${p.label}`).toContainEqual(expect.objectContaining({ principalName: p.label, outcome: wanted }));
    }
  }, 120_000);

  it('names the privilege and the federation a refused call lacked, in one line', async () => {
    const reader = principals.find((p) => p.label === 'read-on-churn') as (typeof principals)[number];
    const err = TributaryError.from(await reader.client.startRun('churn').catch((e: unknown) => e));
    expect(err.code).toBe('PERMISSION_DENIED');
    expect(err.message).toBe('principal "read-on-churn" needs operate on federation:churn');
  });

  it('lists only the federations, sites and runs the caller may read', async () => {
    const reader = principals.find((p) => p.label === 'read-on-fraud') as (typeof principals)[number];
    expect((await reader.client.listFederations()).map((f) => f.name)).toEqual(['fraud']);
    expect((await reader.client.listSites()).filter((s) => !s.federations.includes('fraud'))).toEqual([]);
    expect(await reader.client.listRuns()).toEqual([]);
    expect(new Set((await reader.client.listGrants()).map((g) => g.resource))).toEqual(new Set(['federation:fraud']));
  });

  it('records which principal minted an invitation', async () => {
    const operator = principals.find((p) => p.label === 'operate-on-churn') as (typeof principals)[number];
    expect((await operator.client.createInvitation({ federations: ['churn'] })).mintedBy).toBe('operate-on-churn');
    await expect(operator.client.createInvitation({ federations: ['churn', 'fraud'] })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  });
});
