import { EVERY_FEDERATION, TributaryError, assertName, parseResource, quoted } from '@tributary/proto';
import type { Logger } from 'pino';
import { requireAdminSide } from '../auth/principal.js';
import { invitationIdOf, type Privilege, type StateStore } from '../state/index.js';
import type { ServiceHandlers, implement } from './call.js';

type AdminMethod = keyof ServiceHandlers<'AdminService'>;

/** The request a method's authorisation sees: its only request, or the first of a client stream. */
type RequestOf<M extends AdminMethod> = Parameters<ServiceHandlers<'AdminService'>[M]>[0] extends infer R ? (R extends AsyncIterable<infer First> ? First : R) : never;

/**
 * What a call acts on: federation names (`*` for coordinator-wide things, which needs the
 * privilege on federation:*), or `any`: a listing, allowed with the privilege on at least one
 * federation and answered with only what the caller may read.
 */
export type AccessScope = readonly string[] | 'any';

/** What the rules may look up to find the federations a request acts on. */
export interface AccessLookup {
  /** The federation of a run; NOT_FOUND for an unknown run. */
  runFederation(runId: string): Promise<string>;
  /** The federations a site is a member of (`*` for a site in none); NOT_FOUND for an unknown site. */
  siteFederations(name: string): Promise<readonly string[]>;
  /** The federations an invitation (by its public id) joins; NOT_FOUND for an unknown id. */
  invitationFederations(id: string): Promise<readonly string[]>;
}

/** The privilege a method needs, and on what. */
export interface AccessRule<Req> {
  readonly needs: Privilege;
  readonly on: (request: Req, lookup: AccessLookup) => AccessScope | Promise<AccessScope>;
}

/** Every AdminService method and nothing else: a method without a rule fails the type check. */
export type AdminAccess = { readonly [M in AdminMethod]: AccessRule<RequestOf<M>> };

const federation = (name: string): readonly string[] => [assertName('federation', name)];
const optionalFederation = (name: string): AccessScope => (name === '' ? 'any' : federation(name));
/** Coordinator-wide: principals are not federation things. */
const everything: readonly string[] = [EVERY_FEDERATION];
const federationsOrEvery = (names: readonly string[]): AccessScope => (names.length === 0 ? everything : names.map((n) => assertName('federation', n)));

/**
 * The privilege every AdminService method needs, beside the handlers in admin-service.ts and
 * metrics-service.ts, and stated in docs/security.md. `read`: list, get, watch, download, metrics,
 * search. `operate`: runs, inviting (and revoking invitations), adding, revoking,
 * removing and restoring sites. `admin`: creating, updating and deleting federations,
 * collecting their garbage, grants and principals.
 */
export const ADMIN_ACCESS: AdminAccess = {
  CreateFederation: {
    needs: 'admin',
    on: (part) => {
      if (!part.request) throw TributaryError.invalidArgument('a CreateFederation stream starts with its request, then the model chunks');
      return federation(part.request.name);
    },
  },
  GetFederation: { needs: 'read', on: (req) => federation(req.name) },
  // Guarded as creation is: settings and the federation's existence are an admin's decisions.
  UpdateFederation: { needs: 'admin', on: (req) => federation(req.name) },
  DeleteFederation: { needs: 'admin', on: (req) => federation(req.name) },
  ListFederations: { needs: 'read', on: () => 'any' },
  AddSite: { needs: 'operate', on: (req) => federationsOrEvery(req.federations) },
  ListSites: { needs: 'read', on: (req) => optionalFederation(req.federation) },
  RevokeSite: { needs: 'operate', on: (req, lookup) => lookup.siteFederations(req.name) },
  IssueSiteNatsCredentials: { needs: 'operate', on: (req, lookup) => lookup.siteFederations(req.site) },
  CreateInvitation: { needs: 'operate', on: (req) => federationsOrEvery(req.federations) },
  StartRun: { needs: 'operate', on: (req) => federation(req.federation) },
  StopRun: { needs: 'operate', on: async (req, lookup) => [await lookup.runFederation(req.runId)] },
  GetRun: { needs: 'read', on: async (req, lookup) => [await lookup.runFederation(req.runId)] },
  ListRuns: { needs: 'read', on: (req) => optionalFederation(req.federation) },
  WatchRun: { needs: 'read', on: async (req, lookup) => [await lookup.runFederation(req.runId)] },
  ListRounds: { needs: 'read', on: async (req, lookup) => [await lookup.runFederation(req.runId)] },
  GetRound: { needs: 'read', on: async (req, lookup) => [await lookup.runFederation(req.runId)] },
  ListModelVersions: { needs: 'read', on: (req) => federation(req.federation) },
  DownloadModel: { needs: 'read', on: (req) => federation(req.federation) },
  CollectGarbage: { needs: 'admin', on: (req) => federation(req.federation) },
  WatchMetrics: { needs: 'read', on: (req) => federation(req.federation) },
  GetMetricHistory: { needs: 'read', on: (req) => federation(req.federation) },
  SearchRuns: { needs: 'read', on: (req) => federation(req.federation) },
  AddPrincipal: { needs: 'admin', on: () => everything },
  // Admins of a federation name principals in grants, so they may see them.
  ListPrincipals: { needs: 'admin', on: () => 'any' },
  DisablePrincipal: { needs: 'admin', on: () => everything },
  RotatePrincipalKey: { needs: 'admin', on: () => everything },
  GrantPrivilege: { needs: 'admin', on: (req) => [parseResource(req.resource)] },
  RevokePrivilege: { needs: 'admin', on: (req) => [parseResource(req.resource)] },
  ListGrants: { needs: 'read', on: (req) => optionalFederation(req.federation) },
  // The dashboard shows every federation: read on all of them.
  CreateDashboardSession: { needs: 'read', on: () => everything },
  // The audit log spans every federation and every principal.
  ListAuditEntries: { needs: 'admin', on: () => everything },
  VerifyAuditLog: { needs: 'admin', on: () => everything },
  ListInvitations: { needs: 'read', on: (req) => optionalFederation(req.federation) },
  RevokeInvitation: { needs: 'operate', on: (req, lookup) => lookup.invitationFederations(req.id) },
  // Removing takes the site out of all its federations: operate on each of them.
  RemoveSite: { needs: 'operate', on: (req, lookup) => lookup.siteFederations(req.name) },
  // A removed site is in no federation: trusting its key again is then coordinator-wide.
  RestoreSite: { needs: 'operate', on: (req, lookup) => lookup.siteFederations(req.name) },
  // A worker reads every federation's update payloads; the handler also wants the group "aggregators".
  JoinAggregation: { needs: 'read', on: () => everything },
};

/** Checks a call against its method's rule before the handler runs; PERMISSION_DENIED names what it lacked. */
export type Authorize = NonNullable<Parameters<typeof implement>[2]['authorize']>;

export function adminAuthorizer(deps: { state: StateStore; logger: Logger }): Authorize {
  const lookup: AccessLookup = {
    async runFederation(runId) {
      const run = await deps.state.getRun(runId);
      if (run === undefined) throw TributaryError.notFound(`run ${quoted(runId)} does not exist`);
      return run.federation;
    },
    async siteFederations(name) {
      const site = await deps.state.getSite(assertName('site', name));
      if (site === undefined) throw TributaryError.notFound(`site ${quoted(name)} does not exist`);
      return site.federations.length === 0 ? everything : site.federations;
    },
    async invitationFederations(id) {
      const found = (await deps.state.listInvitations()).find((i) => invitationIdOf(i) === id);
      if (found === undefined) throw TributaryError.notFound(`invitation ${quoted(id)} does not exist`);
      return found.federations;
    },
  };
  const rules = ADMIN_ACCESS as unknown as Readonly<Record<string, AccessRule<object>>>;
  return async (method, principal, request) => {
    const rule = Object.hasOwn(rules, method) ? rules[method] : undefined;
    if (rule === undefined) throw TributaryError.internal(`AdminService.${method} declares no privilege`);
    const caller = requireAdminSide(principal);
    const scope = await rule.on(request, lookup);
    try {
      if (scope === 'any') caller.permissions.requireAnywhere(rule.needs);
      else caller.permissions.require(rule.needs, scope);
    } catch (err) {
      deps.logger.warn({ method, principal: caller.name, keyId: caller.keyId, needs: rule.needs }, `call denied: ${TributaryError.from(err).message}`);
      throw err;
    }
  };
}
