import {
  Reason,
  TributaryError,
  assertName,
  type CollectGarbageResponse__Output,
  quoted,
  type CreateFederationPart__Output,
  type NatsCredentials__Output,
  type Federation__Output,
  type Invitation__Output,
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
} from '@tributary/proto';
import { requireAdmin } from '../auth/principal.js';
import type { Catalog } from '../federations/catalog.js';
import type { RunEventBus } from '../rounds/events.js';
import type { SiteNatsCredentials } from '../sites/nats-credentials.js';
import type { RoundEngine } from '../rounds/engine.js';
import type { BlobStore, StateStore } from '../state/index.js';
import { AsyncQueue } from './async-queue.js';
import { auditService, type AuditServiceDeps } from './audit-service.js';
import type { CallContext, ServiceHandlers } from './call.js';
import { federationMessage, natsCredentialsMessage, siteMessage } from './convert.js';
import { modelChunks } from './model-download.js';
import { metricsService } from './metrics-service.js';
import type { MetricEventBus } from '../ingest/metric-events.js';
import type { RunTracker } from '../tracking/run-tracker.js';

export interface AdminServiceDeps {
  state: StateStore;
  blobs: BlobStore;
  catalog: Catalog;
  engine: RoundEngine;
  events: RunEventBus;
  tracker: Pick<RunTracker, 'metricHistory' | 'searchTrackingRuns'>;
  metricEvents: MetricEventBus;
  /** Per-site NATS users; absent when NATS authentication is managed elsewhere. */
  natsCredentials?: SiteNatsCredentials;
  /** The audit log and the coordinator's public key, for ListAuditEntries and VerifyAuditLog. */
  audit: AuditServiceDeps;
}

/** AdminService: every method needs an admin key; handlers validate and delegate. */
export function adminService(deps: AdminServiceDeps): ServiceHandlers<'AdminService'> {
  const admin = <Req, Res>(fn: (req: Req, ctx: CallContext) => Promise<Res>) => async (req: Req, ctx: CallContext): Promise<Res> => {
    requireAdmin(ctx.principal);
    return fn(req, ctx);
  };
  const getRun = async (runId: string) => {
    const run = await deps.state.getRun(runId);
    if (!run) throw TributaryError.notFound(`run ${quoted(runId)} does not exist`);
    return run;
  };
  const metricsApi = metricsService({ state: deps.state, tracker: deps.tracker, bus: deps.metricEvents });
  return {
    CreateFederation: admin(async (parts: AsyncIterable<CreateFederationPart__Output>): Promise<Federation__Output> => {
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
    }),
    GetFederation: admin(async (req): Promise<Federation__Output> => {
      const federation = await deps.catalog.getFederation(req.name);
      return federationMessage(federation, await deps.catalog.membersOf(federation.name));
    }),
    ListFederations: admin(async (): Promise<ListFederationsResponse__Output> => {
      const federations = await deps.state.listFederations();
      const sites = await deps.state.listSites();
      return {
        federations: federations.map((f) => federationMessage(f, sites.filter((s) => s.federations.includes(f.name)).map((s) => s.name))),
      };
    }),
    AddSite: admin(async (req): Promise<Site__Output> => siteMessage(await deps.catalog.addSite(req))),
    ListSites: admin(async (req): Promise<ListSitesResponse__Output> => {
      if (req.federation) assertName('federation', req.federation);
      const sites = await deps.state.listSites();
      return { sites: sites.filter((s) => !req.federation || s.federations.includes(req.federation)).map(siteMessage) };
    }),
    RevokeSite: admin(async (req): Promise<Site__Output> => {
      // The state first: from here every check refuses the site, whatever NATS does next.
      const site = await deps.catalog.revokeSite(req.name);
      await deps.natsCredentials?.revoke(site.name);
      return siteMessage(site);
    }),
    IssueSiteNatsCredentials: admin(async (req): Promise<NatsCredentials__Output> => {
      if (deps.natsCredentials === undefined) {
        throw TributaryError.of(Reason.FAILED_PRECONDITION, 'this coordinator does not manage NATS credentials: start it with natsAuthority (--nats-authority)');
      }
      const site = assertName('site', req.site);
      const issued = await deps.natsCredentials.issue({ site, userPublicKey: req.userPublicKey, ...(req.ttlSeconds === 0 ? {} : { ttlMs: req.ttlSeconds * 1000 }) });
      return natsCredentialsMessage(issued);
    }),
    CreateInvitation: admin(async (req): Promise<Invitation__Output> => {
      const { token, record } = await deps.catalog.createInvitation({ federations: req.federations, siteName: req.siteName, ttlSeconds: req.ttlSeconds });
      return { token, federations: record.federations, siteName: record.siteName, expiresAtMs: record.expiresAtMs };
    }),
    StartRun: admin(async (req): Promise<Run__Output> => deps.engine.startRun(assertName('federation', req.federation), req.rounds || undefined)),
    StopRun: admin(async (req): Promise<Run__Output> => deps.engine.stopRun(req.runId, req.reason)),
    GetRun: admin(async (req): Promise<Run__Output> => getRun(req.runId)),
    ListRuns: admin(async (req): Promise<ListRunsResponse__Output> => ({
      runs: await deps.state.listRuns(req.federation ? assertName('federation', req.federation) : undefined),
    })),
    ListRounds: admin(async (req): Promise<ListRoundsResponse__Output> => {
      await getRun(req.runId);
      return { rounds: await deps.state.listRounds(req.runId) };
    }),
    GetRound: admin(async (req): Promise<Round__Output> => {
      const round = await deps.state.getRound(req.runId, req.number);
      if (!round) throw TributaryError.notFound(`round ${req.number} of run ${quoted(req.runId)} does not exist`);
      return round;
    }),
    ListModelVersions: admin(async (req): Promise<ListModelVersionsResponse__Output> => {
      await deps.catalog.getFederation(req.federation);
      return { versions: await deps.state.listModelVersions(req.federation) };
    }),
    CollectGarbage: admin(async (req): Promise<CollectGarbageResponse__Output> => deps.engine.collectGarbage(assertName('federation', req.federation))),
    WatchRun: (req, ctx) => {
      requireAdmin(ctx.principal);
      return watchRun(req, ctx, deps);
    },
    DownloadModel: (req, ctx) => {
      requireAdmin(ctx.principal);
      return modelChunks(req, deps, ctx.signal);
    },
    ...metricsApi,
    ...auditService(deps.audit),
  };
}

async function* watchRun(req: WatchRunRequest__Output, ctx: CallContext, deps: AdminServiceDeps): AsyncIterable<RunEvent__Output> {
  const queue = new AsyncQueue<RunEvent__Output>();
  const unsubscribe = deps.events.subscribe(req.runId, (e) => queue.push(e));
  try {
    const run = await deps.state.getRun(req.runId);
    if (!run) throw TributaryError.notFound(`run ${quoted(req.runId)} does not exist`);
    const round = deps.engine.currentRound(run.id) ?? (run.currentRound > 0 ? await deps.state.getRound(run.id, run.currentRound) : undefined);
    yield { type: 'SNAPSHOT', atMs: Date.now(), run, round: round ?? null, update: null, refusal: null };
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

