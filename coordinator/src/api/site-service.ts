import {
  Reason,
  TributaryError,
  quoted,
  type EnrollResponse__Output,
  type HeartbeatResponse__Output,
  type ReportTaskFailureResponse__Output,
  type SigningKey,
  type NatsCredentials__Output,
  type Run__Output,
  type Task__Output,
  type UpdateStatus__Output,
  type WatchTasksRequest__Output,
  type WhoAmIResponse__Output,
} from '@tributary/proto';
import { requireMemberOrReader, requireSiteMember } from '../auth/principal.js';
import type { Catalog } from '../federations/catalog.js';
import type { CoordinatorMetrics } from '../observability/metrics.js';
import type { RunEventBus, TaskBus } from '../rounds/events.js';
import type { SiteNatsCredentials } from '../sites/nats-credentials.js';
import type { SitePresence } from '../sites/presence.js';
import type { RoundEngine } from '../rounds/engine.js';
import type { BlobStore, StateStore } from '../state/index.js';
import { AsyncQueue } from './async-queue.js';
import type { CallContext, ServiceHandlers } from './call.js';
import { natsCredentialsMessage, siteMessage } from './convert.js';
import type { ByteBudget } from './download-budget.js';
import type { SharedModelChunks } from './shared-model-chunks.js';
import { modelChunks } from './model-download.js';

export interface SiteServiceDeps {
  state: StateStore;
  blobs: BlobStore;
  catalog: Catalog;
  engine: RoundEngine;
  tasks: TaskBus;
  /** Run events: a run's end is told to the members watching its federation. */
  events: RunEventBus;
  metrics: CoordinatorMetrics;
  /** The coordinator's verdict key; WhoAmI tells its public half to every known caller. */
  coordinatorKey: Pick<SigningKey, 'publicKey' | 'keyId'>;
  /** Per-site NATS users; absent when NATS authentication is managed elsewhere. */
  natsCredentials?: SiteNatsCredentials;
  /** The NATS URLs told to sites on every task, so they follow a NATS that moved. */
  natsAdvertise: readonly string[];
  /** Connected while a WatchTasks stream is open; authenticated calls are reported by `implement`. */
  presence: Pick<SitePresence, 'of' | 'seen' | 'streamOpened'>;
  /** Unsent model chunk bytes for all downloads together, shared with the admin service. */
  downloads: ByteBudget;
  /** Model chunks shared by the downloads of a version, with the other service. */
  chunks: SharedModelChunks;
}

/** SiteService: thin handlers that check the caller and delegate. */
export function siteService(deps: SiteServiceDeps): ServiceHandlers<'SiteService'> {
  return {
    Enroll: async (req, ctx): Promise<EnrollResponse__Output> => {
      if (ctx.principal.role !== 'enrolling') {
        throw TributaryError.of(Reason.ALREADY_EXISTS, 'this key is already registered');
      }
      const site = await deps.catalog.enroll({ token: req.invitationToken, siteName: req.siteName, publicKey: ctx.principal.publicKey, accepted: ctx.principal.claimNonce });
      deps.presence.seen(site.name);
      return { site: siteMessage(site, await deps.presence.of(site.name, site.createdAtMs)) };
    },
    WhoAmI: async (_req, ctx): Promise<WhoAmIResponse__Output> => {
      const p = ctx.principal;
      const coordinator = { coordinatorKey: Buffer.from(deps.coordinatorKey.publicKey), coordinatorKeyId: deps.coordinatorKey.keyId, natsCredentialsRequired: deps.natsCredentials !== undefined };
      if (p.role === 'site') return { role: 'site', keyId: p.keyId, site: siteMessage(p.site, await deps.presence.of(p.site.name, p.site.createdAtMs)), ...coordinator };
      if (p.role === 'admin') return { role: 'admin', keyId: p.keyId, site: null, ...coordinator };
      throw TributaryError.of(Reason.AUTH_UNKNOWN_KEY, 'unknown key');
    },
    GetUpdateStatus: async (req, ctx): Promise<UpdateStatus__Output> => {
      requireMemberOrReader(ctx.principal, req.federation);
      const record = await deps.state.getUpdate(req.updateId);
      const own = record && record.federation === req.federation && (ctx.principal.role === 'admin' || (ctx.principal.role === 'site' && record.site === ctx.principal.site.name));
      if (!record || !own) {
        return { updateId: req.updateId, state: 'UPDATE_STATE_PENDING', reason: '', message: '', federation: req.federation, runId: '', round: 0, site: '', payloadSha256: '', payloadSize: 0 };
      }
      return {
        updateId: record.updateId,
        state: record.state === 'ACCEPTED' ? 'UPDATE_STATE_ACCEPTED' : 'UPDATE_STATE_REFUSED',
        reason: record.reason,
        message: record.message,
        federation: record.federation,
        runId: record.runId,
        round: record.round,
        site: record.site,
        // As on the verdict: the digest and size verified, for an accepted update only.
        payloadSha256: record.state === 'ACCEPTED' ? (record.summary?.payloadSha256 ?? '') : '',
        payloadSize: record.state === 'ACCEPTED' ? (record.summary?.payloadSize ?? 0) : 0,
      };
    },
    GetNatsCredentials: async (req, ctx): Promise<NatsCredentials__Output> => {
      if (deps.natsCredentials === undefined) {
        throw TributaryError.of(Reason.FAILED_PRECONDITION, 'this coordinator does not manage NATS credentials: use the credentials your NATS operator gave you');
      }
      if (ctx.principal.role !== 'site') throw TributaryError.of(Reason.PERMISSION_DENIED, 'this call needs a site key');
      const issued = await deps.natsCredentials.issue({ site: ctx.principal.site.name, userPublicKey: req.userPublicKey });
      return natsCredentialsMessage(issued);
    },
    ReportTaskFailure: async (req, ctx): Promise<ReportTaskFailureResponse__Output> => {
      const site = requireSiteMember(ctx.principal, req.federation);
      const failure = await deps.engine.sites.reportFailure(site.name, { federation: req.federation, runId: req.runId, round: req.round }, req.message, req.taskKind);
      return { failure };
    },
    Heartbeat: async (req, ctx): Promise<HeartbeatResponse__Output> => {
      const site = requireSiteMember(ctx.principal, req.federation);
      if (req.phase !== 'train' && req.phase !== 'upload') throw TributaryError.invalidArgument(`phase must be "train" or "upload", got ${quoted(req.phase)}`);
      const going = await deps.engine.sites.heartbeat(site.name, { federation: req.federation, runId: req.runId, round: req.round }, { phase: req.phase, uploadBytes: req.uploadBytes });
      return { continue: going };
    },
    WatchTasks: (req, ctx) => watchTasks(req, ctx, deps),
    DownloadModel: (req, ctx) => {
      requireMemberOrReader(ctx.principal, req.federation);
      return modelChunks(req, deps, ctx.signal);
    },
  };
}

async function* watchTasks(req: WatchTasksRequest__Output, ctx: CallContext, deps: SiteServiceDeps): AsyncIterable<Task__Output> {
  const site = requireSiteMember(ctx.principal, req.federation);
  const joined = joinedRunsOf(req);
  const queue = new AsyncQueue<Task__Output>();
  // Subscribe before looking at the open round, so no task falls between the two.
  const unsubscribe = deps.tasks.subscribe(req.federation, (offer) => {
    if (offer.selectedSites.includes(site.name)) queue.push(offer.task);
  });
  const unsubscribeEnds = deps.events.subscribeAll((_runId, event) => {
    if (event.type === 'RUN_ENDED' && event.run?.federation === req.federation) queue.push(runEndedTask(event.run));
  });
  deps.metrics.connectedSites.inc();
  const streamEnded = deps.presence.streamOpened(site.name);
  try {
    // Ends the site missed while away come before any task: its participation in them is over.
    for (const run of await endedRunsAmong(joined, req.federation, deps.state)) yield { ...runEndedTask(run), announced: true };
    const natsUrls = [...deps.natsAdvertise];
    const open = deps.engine.openTaskFor(req.federation, site.name);
    if (open) yield { ...open, natsUrls };
    for (;;) {
      const task = await queue.next(ctx.signal);
      if (!task) return;
      yield { ...task, natsUrls };
    }
  } finally {
    unsubscribe();
    unsubscribeEnds();
    deps.metrics.connectedSites.dec();
    streamEnded();
  }
}

/** Most run ids a WatchTasks request may name in `joined_runs`. */
export const MAX_JOINED_RUNS = 16;

/** The run ids a WatchTasks request names in `joined_runs`, each once; more than `MAX_JOINED_RUNS` is refused. */
function joinedRunsOf(req: WatchTasksRequest__Output): string[] {
  const named = [...new Set(req.joinedRuns)].filter((id) => id !== '');
  if (named.length > MAX_JOINED_RUNS) {
    throw TributaryError.invalidArgument(`joined_runs names ${named.length} runs; at most ${MAX_JOINED_RUNS} are taken`);
  }
  return named;
}

/**
 * The runs among `runIds` that belong to `federation` and have ended, in the order named.
 * Unknown ids and runs of other federations are passed over: a site learns no more than a
 * member hears as runs end.
 */
async function endedRunsAmong(runIds: readonly string[], federation: string, state: StateStore): Promise<Run__Output[]> {
  const ended: Run__Output[] = [];
  for (const runId of runIds) {
    const run = await state.getRun(runId);
    if (run !== undefined && run.federation === federation && run.status !== 'RUN_STATUS_RUNNING') ended.push(run);
  }
  return ended;
}

/** The task of kind "run_ended" that tells a watching site how a run of its federation ended. */
function runEndedTask(run: Run__Output): Task__Output {
  return {
    federation: run.federation,
    runId: run.id,
    round: run.currentRound,
    kind: 'run_ended',
    modelVersion: run.latestVersion,
    modelSha256: '',
    modelSize: 0,
    config: {},
    deadlineAtMs: 0,
    modelSpec: null,
    runStatus: run.status,
    runMessage: run.failureReason,
    natsUrls: [],
    heartbeatIntervalSeconds: 0,
    uploadGraceSeconds: 0,
    announced: false,
  };
}
