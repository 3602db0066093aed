import type { ServiceName } from '@tributary/proto';

/** Whether a method changes the coordinator's state (`change`) or only reads it (`read`). */
export type MethodEffect = 'change' | 'read';

/**
 * Every method of SiteService and AdminService and its effect: state-changing calls are audited
 * whatever their outcome, read calls only when denied. A test enumerates the service definitions,
 * so a new method cannot ship without an entry here.
 */
export const METHOD_EFFECTS: { readonly [S in ServiceName]: Readonly<Record<string, MethodEffect>> } = {
  SiteService: {
    Enroll: 'change',
    WhoAmI: 'read',
    WatchTasks: 'read',
    DownloadModel: 'read',
    GetUpdateStatus: 'read',
    // Issues a NATS user JWT and records it in the credential ledger.
    GetNatsCredentials: 'change',
    // Records the site's failure on its round.
    ReportTaskFailure: 'change',
    // Only refreshes the site's progress in memory, every few seconds: audited when denied.
    Heartbeat: 'read',
  },
  AdminService: {
    CreateFederation: 'change',
    GetFederation: 'read',
    UpdateFederation: 'change',
    DeleteFederation: 'change',
    ListFederations: 'read',
    AddSite: 'change',
    ListSites: 'read',
    RevokeSite: 'change',
    IssueSiteNatsCredentials: 'change',
    // Issues an aggregation worker's NATS user JWT.
    JoinAggregation: 'change',
    CreateInvitation: 'change',
    StartRun: 'change',
    StopRun: 'change',
    GetRun: 'read',
    ListRuns: 'read',
    WatchRun: 'read',
    ListRounds: 'read',
    GetRound: 'read',
    ListModelVersions: 'read',
    DownloadModel: 'read',
    CollectGarbage: 'change',
    WatchMetrics: 'read',
    GetMetricHistory: 'read',
    SearchRuns: 'read',
    ListAuditEntries: 'read',
    VerifyAuditLog: 'read',
    // A login token for the dashboard: a session is granted, so it is audited.
    CreateDashboardSession: 'change',
    AddPrincipal: 'change',
    ListPrincipals: 'read',
    DisablePrincipal: 'change',
    RotatePrincipalKey: 'change',
    GrantPrivilege: 'change',
    RevokePrivilege: 'change',
    ListGrants: 'read',
    ListInvitations: 'read',
    RevokeInvitation: 'change',
    RemoveSite: 'change',
    RestoreSite: 'change',
  },
};

/** The effect of a method; an unknown one counts as a change, so it is audited rather than missed. */
export function methodEffect(service: ServiceName, method: string): MethodEffect {
  return (Object.hasOwn(METHOD_EFFECTS[service], method) ? METHOD_EFFECTS[service][method] : undefined) ?? 'change';
}

/** What a call acts on, as far as its request says: empty strings where it names nothing. */
export interface CallTarget {
  readonly federation: string;
  readonly site: string;
  readonly runId: string;
}

/** Methods whose request names its federation or site in `name` (or another field than `federation` / `site`). */
const NAMED: Readonly<Record<string, (r: Record<string, unknown>) => Partial<CallTarget>>> = {
  CreateFederation: (r) => ({ federation: text(record(r['request'])['name']) }),
  GetFederation: (r) => ({ federation: text(r['name']) }),
  UpdateFederation: (r) => ({ federation: text(r['name']) }),
  DeleteFederation: (r) => ({ federation: text(r['name']) }),
  AddSite: (r) => ({ site: text(r['name']), federation: list(r['federations']) }),
  RevokeSite: (r) => ({ site: text(r['name']) }),
  RemoveSite: (r) => ({ site: text(r['name']) }),
  RestoreSite: (r) => ({ site: text(r['name']) }),
  CreateInvitation: (r) => ({ site: text(r['siteName']), federation: list(r['federations']) }),
  Enroll: (r) => ({ site: text(r['siteName']) }),
};

/** The federation, site and run a decoded request names (unvalidated: the entry clips long text). */
export function targetOf(method: string, request: object | undefined): CallTarget {
  const r = record(request);
  const named = Object.hasOwn(NAMED, method) ? NAMED[method]?.(r) : undefined;
  return {
    federation: named?.federation ?? text(r['federation']),
    site: named?.site ?? text(r['site']),
    runId: text(r['runId']),
  };
}

function record(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** Several federations as one comma-separated field. */
function list(v: unknown): string {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').join(',') : '';
}
