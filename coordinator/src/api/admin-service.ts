import {
  EVERY_FEDERATION,
  parseGrantSpec,
  Reason,
  TributaryError,
  assertName,
  type CollectGarbageResponse__Output,
  quoted,
  type CreateFederationPart__Output,
  type NatsCredentials__Output,
  type AggregationCredentials__Output,
  type Federation__Output,
  type DeleteFederationResponse__Output,
  type Invitation__Output,
  type ListInvitationsResponse__Output,
  type ListFederationsResponse__Output,
  type ListModelVersionsResponse__Output,
  type ListRoundsResponse__Output,
  type ListRunsResponse__Output,
  type ListSitesResponse__Output,
  type Round__Output,
  type Run__Output,
  type RunEvent__Output,
  type Site__Output,
  type WatchRunRequest__Output,
  type Principal__Output,
  type ListPrincipalsResponse__Output,
  type Grant__Output,
  type ListGrantsResponse__Output,
} from '@tributary/proto';
import { requireAdminSide } from '../auth/principal.js';
import type { PrincipalRegistry } from '../auth/principal-registry.js';
import type { Catalog } from '../federations/catalog.js';
import { roundMessage, type RunEventBus } from '../rounds/events.js';
import type { SiteNatsCredentials } from '../sites/nats-credentials.js';
import type { SitePresence } from '../sites/presence.js';
import type { RoundEngine } from '../rounds/engine.js';
import type { BlobStore, FederationRecord, SiteRecord, StateStore } from '../state/index.js';
import { AsyncQueue } from './async-queue.js';
import { auditService, type AuditServiceDeps } from './audit-service.js';
import type { CallContext, ServiceHandlers } from './call.js';
import { federationMessage, grantMessage, invitationMessage, natsCredentialsMessage, principalMessage, siteMessage } from './convert.js';
import type { ByteBudget } from './download-budget.js';
import type { SharedModelChunks } from './shared-model-chunks.js';
import { modelChunks } from './model-download.js';
import { metricsService } from './metrics-service.js';
import type { MetricEventBus } from '../ingest/metric-events.js';
import type { RunTracker } from '../tracking/run-tracker.js';
import { requireDashboardAccess, type Dashboard } from '../dashboard/index.js';
import type { WorkerCredentials } from '../aggregation/worker-credentials.js';

export interface AdminServiceDeps {
  state: StateStore;
  blobs: BlobStore;
  /** Unsent model chunk bytes for all downloads together, shared with the site service. */
  downloads: ByteBudget;
  /** Model chunks shared by the downloads of a version, with the other service. */
  chunks: SharedModelChunks;
  catalog: Catalog;
  engine: RoundEngine;
  events: RunEventBus;
  tracker: Pick<RunTracker, 'metricHistory' | 'searchTrackingRuns' | 'deleteExperiment'>;
  metricEvents: MetricEventBus;
  principals: PrincipalRegistry;
  /** Per-site NATS users; absent when NATS authentication is managed elsewhere. */
  natsCredentials?: SiteNatsCredentials;
  /** The web dashboard; absent when it is off. */
  dashboard?: Pick<Dashboard, 'createLogin'>;
  /** Aggregation workers' credentials; absent when the coordinator uses none. */
  aggregation?: Pick<WorkerCredentials, 'issue' | 'revoke'>;
  /** The audit log and the coordinator's public key, for ListAuditEntries and VerifyAuditLog. */
  audit: AuditServiceDeps;
  /** Sites' last seen and connected, on every Site returned. */
  presence: Pick<SitePresence, 'of' | 'ofSites'>;
}

/**
 * AdminService: handlers validate and delegate. The privilege each method needs is checked before
 * its handler runs, by its rule in admin-access.ts; listings answer only what the caller may read.
 */
export function adminService(deps: AdminServiceDeps): ServiceHandlers<'AdminService'> {
  const caller = (ctx: CallContext) => requireAdminSide(ctx.principal);
  const readable = (ctx: CallContext) => {
    const permissions = caller(ctx).permissions;
    return (federation: string) => permissions.can('read', federation);
  };
  const getRun = async (runId: string) => {
    const run = await deps.state.getRun(runId);
    if (!run) throw TributaryError.notFound(`run ${quoted(runId)} does not exist`);
    return run;
  };
  const sitePresent = async (record: SiteRecord) => siteMessage(record, await deps.presence.of(record.name, record.createdAtMs));
  const metricsApi = metricsService({ state: deps.state, tracker: deps.tracker, bus: deps.metricEvents });
  return {
    CreateFederation: async (parts: AsyncIterable<CreateFederationPart__Output>): Promise<Federation__Output> => {
      const iterator = parts[Symbol.asyncIterator]();
      const first = await iterator.next();
      const req = first.done === true ? undefined : first.value.request;
      if (!req) throw TributaryError.invalidArgument('a CreateFederation stream starts with its request, then the model chunks');
      async function* chunks(): AsyncIterable<Uint8Array> {
        for (;;) {
          const next = await iterator.next();
          if (next.done === true) return;
          if (!next.value.modelChunk) throw TributaryError.invalidArgument('after its request, a CreateFederation stream carries only model chunks');
          yield next.value.modelChunk;
        }
      }
      const federation = await deps.catalog.createFederation({
        name: req.name,
        description: req.description,
        settings: req.settings,
        model: { size: req.initialModelSize, sha256: req.initialModelSha256, chunks: chunks() },
      });
      return federationMessage(federation, []);
    },
    GetFederation: async (req): Promise<Federation__Output> => {
      const federation = await deps.catalog.getFederation(req.name);
      return withMembers(federation, await deps.state.listSites());
    },
    UpdateFederation: async (req, ctx): Promise<Federation__Output> => {
      const name = assertName('federation', req.name);
      const busy = (runId: string) => `federation "${name}" has run ${runId} in progress, which keeps the settings it started with: update it once the run ends, or stop the run first`;
      const { result } = await deps.engine.whileNoRun({
        federation: name,
        refusal: busy,
        change: () => deps.catalog.updateFederation({ name, description: req.description, settings: req.settings, updateMask: req.updateMask }),
      });
      ctx.auditDetail?.(changeDetail(result.before, result.after, result.changed));
      return withMembers(result.after, await deps.state.listSites());
    },
    DeleteFederation: async (req, ctx): Promise<DeleteFederationResponse__Output> => {
      const name = assertName('federation', req.name);
      const by = caller(ctx).name;
      const { result, stopped } = await deps.engine.whileNoRun({
        federation: name,
        refusal: (runId) => `federation "${name}" has run ${runId} in progress: stop it first, or delete with force, which stops it`,
        change: async () => {
          const deleted = await deps.catalog.deleteFederation(name, by);
          // Only what its keep_versions keeps stays, as `model gc` leaves it.
          await deps.engine.applyRetention(deleted);
          return deleted;
        },
        stop: req.force ? { reason: `federation deleted by ${by}` } : undefined,
      });
      // The membership is gone: the sites' NATS permissions follow at their next renewal.
      await deps.tracker.deleteExperiment(name);
      ctx.auditDetail?.(`force=${req.force}${stopped ? ` stopped_run=${stopped.id}` : ''} former_sites=${result.formerSites.join(',')}`);
      return { name, deletedAtMs: result.deletedAtMs, stoppedRunId: stopped?.id ?? '', formerSites: result.formerSites };
    },
    ListFederations: async (_req, ctx): Promise<ListFederationsResponse__Output> => {
      const canRead = readable(ctx);
      const federations = (await deps.state.listFederations()).filter((f) => canRead(f.name));
      const sites = await deps.state.listSites();
      return { federations: federations.map((f) => withMembers(f, sites)) };
    },
    AddSite: async (req): Promise<Site__Output> => sitePresent(await deps.catalog.addSite(req)),
    ListSites: async (req, ctx): Promise<ListSitesResponse__Output> => {
      const canRead = readable(ctx);
      const sites = await deps.state.listSites();
      const visible = req.federation
        ? sites.filter((s) => s.federations.includes(req.federation))
        : sites.filter((s) => (s.federations.length === 0 ? canRead(EVERY_FEDERATION) : s.federations.some(canRead)));
      const presence = await deps.presence.ofSites(visible.map((s) => ({ name: s.name, createdAtMs: s.createdAtMs })));
      return { sites: visible.map((s, i) => siteMessage(s, presence[i])) };
    },
    RevokeSite: async (req): Promise<Site__Output> => {
      // The state first: from here every check refuses the site, whatever NATS does next.
      const site = await deps.catalog.revokeSite(req.name);
      await deps.natsCredentials?.revoke(site.name);
      return sitePresent(site);
    },
    IssueSiteNatsCredentials: async (req): Promise<NatsCredentials__Output> => {
      if (deps.natsCredentials === undefined) {
        throw TributaryError.of(Reason.FAILED_PRECONDITION, 'this coordinator does not manage NATS credentials: start it with natsAuthority (--nats-authority)');
      }
      const site = assertName('site', req.site);
      const issued = await deps.natsCredentials.issue({ site, userPublicKey: req.userPublicKey, ...(req.ttlSeconds === 0 ? {} : { ttlMs: req.ttlSeconds * 1000 }) });
      return natsCredentialsMessage(issued);
    },
    JoinAggregation: async (req, ctx): Promise<AggregationCredentials__Output> => {
      if (deps.aggregation === undefined) {
        throw TributaryError.of(Reason.FAILED_PRECONDITION, 'this coordinator does not use aggregation workers: start it with `tributary serve --aggregation-workers`');
      }
      const principal = caller(ctx);
      return deps.aggregation.issue({ name: principal.name, groups: principal.groups }, { userPublicKey: req.userPublicKey, ttlSeconds: req.ttlSeconds });
    },
    CreateInvitation: async (req, ctx): Promise<Invitation__Output> => {
      const mintedBy = caller(ctx).name;
      const { token, record } = await deps.catalog.createInvitation({ federations: req.federations, siteName: req.siteName, ttlSeconds: req.ttlSeconds, mintedBy });
      return invitationMessage(record, token);
    },
    ListInvitations: async (req, ctx): Promise<ListInvitationsResponse__Output> => {
      const canRead = readable(ctx);
      const federation = req.federation === '' ? undefined : (await deps.catalog.getFederation(req.federation)).name;
      const pending = await deps.catalog.pendingInvitations(federation);
      return { invitations: pending.filter((i) => i.federations.some(canRead)).map((i) => invitationMessage(i)) };
    },
    RevokeInvitation: async (req, ctx): Promise<Invitation__Output> => invitationMessage(await deps.catalog.revokeInvitation(req.id, caller(ctx).name)),
    RemoveSite: async (req, ctx): Promise<Site__Output> => {
      // As RevokeSite: the state first, then the site's NATS users.
      const site = await deps.catalog.removeSite(req.name, caller(ctx).name);
      await deps.natsCredentials?.revoke(site.name);
      return sitePresent(site);
    },
    RestoreSite: async (req, ctx): Promise<Site__Output> => sitePresent(await deps.catalog.restoreSite(req.name, caller(ctx).name)),
    StartRun: async (req): Promise<Run__Output> => deps.engine.startRun(assertName('federation', req.federation), req.rounds || undefined, requestIdOf(req.requestId)),
    StopRun: async (req): Promise<Run__Output> => deps.engine.stopRun(req.runId, req.reason),
    GetRun: async (req): Promise<Run__Output> => getRun(req.runId),
    ListRuns: async (req, ctx): Promise<ListRunsResponse__Output> => {
      const canRead = readable(ctx);
      const runs = await deps.state.listRuns(req.federation ? assertName('federation', req.federation) : undefined);
      return { runs: runs.filter((r) => canRead(r.federation)) };
    },
    ListRounds: async (req): Promise<ListRoundsResponse__Output> => {
      await getRun(req.runId);
      return { rounds: (await deps.state.listRounds(req.runId)).map((r) => roundMessage(r)) };
    },
    GetRound: async (req): Promise<Round__Output> => {
      const round = await deps.state.getRound(req.runId, req.number);
      if (!round) throw TributaryError.notFound(`round ${req.number} of run ${quoted(req.runId)} does not exist`);
      return roundMessage(round);
    },
    ListModelVersions: async (req): Promise<ListModelVersionsResponse__Output> => {
      await deps.catalog.getFederation(req.federation);
      return { versions: await deps.state.listModelVersions(req.federation) };
    },
    CollectGarbage: async (req): Promise<CollectGarbageResponse__Output> => deps.engine.collectGarbage(assertName('federation', req.federation)),
    WatchRun: (req, ctx) => watchRun(req, ctx, deps),
    DownloadModel: (req, ctx) => modelChunks(req, deps, ctx.signal),
    CreateDashboardSession: async (_req, ctx) => {
      requireDashboardAccess(ctx.principal);
      if (deps.dashboard === undefined) throw TributaryError.of(Reason.FAILED_PRECONDITION, 'the dashboard is off: start the coordinator with --http-port');
      return deps.dashboard.createLogin(ctx.principal.keyId);
    },
    ...metricsApi,
    AddPrincipal: async (req, ctx): Promise<Principal__Output> => {
      const added = await deps.principals.add({ name: req.name, publicKey: req.publicKey, groups: req.groups, description: req.description }, caller(ctx).name);
      return principalMessage(added);
    },
    ListPrincipals: async (): Promise<ListPrincipalsResponse__Output> => ({ principals: (await deps.principals.list()).map(principalMessage) }),
    // The state first, as for RevokeSite: from there every check refuses the key, whatever NATS does next.
    DisablePrincipal: async (req, ctx): Promise<Principal__Output> => {
      const disabled = await deps.principals.disable(req.name, caller(ctx).name);
      await deps.aggregation?.revoke(disabled.name);
      return principalMessage(disabled);
    },
    // A worker's NATS users were issued to the holder of the old key.
    RotatePrincipalKey: async (req, ctx): Promise<Principal__Output> => {
      const rotated = await deps.principals.rotate(req.name, req.publicKey, caller(ctx).name);
      await deps.aggregation?.revoke(rotated.name);
      return principalMessage(rotated);
    },
    GrantPrivilege: async (req, ctx): Promise<Grant__Output> => grantMessage(await deps.principals.grant(parseGrantSpec(req), caller(ctx).name)),
    RevokePrivilege: async (req, ctx): Promise<Grant__Output> => grantMessage(await deps.principals.revoke(parseGrantSpec(req), caller(ctx).name)),
    ListGrants: async (req, ctx): Promise<ListGrantsResponse__Output> => {
      const canRead = readable(ctx);
      const grants = await deps.principals.grants({
        ...(req.principal === '' ? {} : { principal: req.principal }),
        ...(req.federation === '' ? {} : { federation: assertName('federation', req.federation) }),
      });
      return { grants: grants.filter((g) => canRead(g.federation)).map(grantMessage) };
    },
    ...auditService(deps.audit),
  };
}

async function* watchRun(req: WatchRunRequest__Output, ctx: CallContext, deps: AdminServiceDeps): AsyncIterable<RunEvent__Output> {
  const queue = new AsyncQueue<RunEvent__Output>();
  // The message is taken as the event is published (the records change after), in the detail asked for.
  const detail = req.detail;
  const unsubscribe = deps.events.subscribe(req.runId, (e) => queue.push(e.message(detail)));
  try {
    const run = await deps.state.getRun(req.runId);
    if (!run) throw TributaryError.notFound(`run ${quoted(req.runId)} does not exist`);
    const round = deps.engine.currentRound(run.id) ?? (run.currentRound > 0 ? await deps.state.getRound(run.id, run.currentRound) : undefined);
    yield { type: 'SNAPSHOT', atMs: Date.now(), run, round: round === undefined ? null : roundMessage(structuredClone(round)), update: null, refusal: null };
    if (run.status !== 'RUN_STATUS_RUNNING') return;
    for (;;) {
      const e = await queue.next(ctx.signal);
      if (!e) return;
      yield e;
      if (e.type === 'RUN_ENDED') return;
    }
  } finally {
    unsubscribe();
  }
}

/** A federation with its members, marking those whose key is revoked. */
function withMembers(federation: FederationRecord, sites: readonly SiteRecord[]): Federation__Output {
  const members = sites.filter((s) => s.federations.includes(federation.name));
  return federationMessage(
    federation,
    members.map((s) => s.name),
    members.filter((s) => s.status === 'REVOKED').map((s) => s.name),
  );
}

/** StartRun's idempotency key: empty, or 1-64 of [A-Za-z0-9_-]. */
function requestIdOf(id: string): string {
  if (id !== '' && !/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw TributaryError.invalidArgument('request_id must be 1-64 characters of [A-Za-z0-9_-]');
  return id;
}

/** An update's old and new values, as the audit entry keeps them: `settings.rounds: 3 -> 5; ...`. */
function changeDetail(before: FederationRecord, after: FederationRecord, changed: readonly string[]): string {
  if (changed.length === 0) return 'no change';
  const valueOf = (f: FederationRecord, field: string): string => {
    if (field === 'description') return JSON.stringify(f.description);
    const camel = field.slice('settings.'.length).replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    return JSON.stringify((f.settings as unknown as Record<string, unknown>)[camel]);
  };
  return changed.map((field) => `${field}: ${valueOf(before, field)} -> ${valueOf(after, field)}`).join('; ');
}
