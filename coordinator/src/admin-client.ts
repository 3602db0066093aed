import type * as grpc from '@grpc/grpc-js';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { DEFAULT_BACKOFF_POLICY, MODEL_CHUNK_BYTES, RpcClient, createFederation, downloadModel, retry, waitForRun, type InitialModelSource } from '@tributary/proto';
import type {
  AuditEntry__Output,
  AuditVerification__Output,
  NatsCredentials__Output,
  AggregationCredentials__Output,
  BackoffPolicy,
  DeleteFederationResponse__Output,
  Federation__Output,
  FederationSettings,
  GetMetricHistoryResponse__Output,
  Invitation__Output,
  ListFederationsResponse__Output,
  CollectGarbageResponse__Output,
  ListModelVersionsResponse__Output,
  ListRoundsResponse__Output,
  ListRunsResponse__Output,
  ListSitesResponse__Output,
  ListInvitationsResponse__Output,
  MetricEvent__Output,
  ModelVersion__Output,
  Round__Output,
  DashboardLogin__Output,
  Run__Output,
  RunEvent__Output,
  RunEventDetail,
  RunWaitOptions,
  SearchRunsResponse__Output,
  SigningKey,
  Site__Output,
  Principal__Output,
  ListPrincipalsResponse__Output,
  Grant__Output,
  ListGrantsResponse__Output,
} from '@tributary/proto';

export interface AdminClientOptions {
  /** The coordinator's gRPC address, host:port. */
  address: string;
  /** The key that signs every call; the coordinator must know it as an admin (or grant it). */
  key: SigningKey;
  /** @default insecure (plaintext) */
  credentials?: grpc.ChannelCredentials;
  /** Deadline of each unary call in milliseconds. @default 60000 */
  callTimeoutMs?: number;
  /** Retries of model downloads and run watches after transient failures. @default DEFAULT_BACKOFF_POLICY */
  retry?: BackoffPolicy;
}

/**
 * AdminService over signed gRPC calls: federations, sites, invitations, runs, rounds and model
 * versions. Streams are async iterables; breaking out of a loop cancels the call.
 */
export class AdminClient {
  private readonly rpc: RpcClient;
  private readonly callTimeoutMs: number;
  private readonly retry: BackoffPolicy;

  constructor(opts: AdminClientOptions) {
    this.rpc = new RpcClient({
      address: opts.address,
      key: opts.key,
      service: 'AdminService',
      ...(opts.credentials === undefined ? {} : { credentials: opts.credentials }),
    });
    this.callTimeoutMs = opts.callTimeoutMs ?? 60_000;
    this.retry = opts.retry ?? DEFAULT_BACKOFF_POLICY;
  }

  /**
   * Creates a federation; `initialModel` (safetensors bytes, or a file read in chunks, so any
   * size up to the coordinator's max update size) becomes version 1 and defines the model spec.
   */
  async createFederation(req: {
    name: string;
    description?: string;
    settings?: FederationSettings;
    initialModel: Uint8Array | { file: string };
  }): Promise<Federation__Output> {
    const model = req.initialModel instanceof Uint8Array ? req.initialModel : await modelFile(req.initialModel.file);
    const head = { name: req.name, ...(req.description === undefined ? {} : { description: req.description }), ...(req.settings === undefined ? {} : { settings: req.settings }) };
    return createFederation(this.rpc, head, model, { timeoutMs: this.callTimeoutMs });
  }

  getFederation(name: string): Promise<Federation__Output> {
    return this.call('GetFederation', { name });
  }

  /**
   * Changes a federation between runs: its description when given, and the settings `settings`
   * holds (a key present changes, even to 0 or ''; a key absent stays). Refused with
   * FAILED_PRECONDITION while a run is running.
   */
  updateFederation(req: { name: string; description?: string; settings?: FederationSettings }): Promise<Federation__Output> {
    const settings = req.settings ?? {};
    const updateMask = [
      ...(req.description === undefined ? [] : ['description']),
      ...Object.entries(settings)
        .filter(([, v]) => v !== undefined)
        .map(([k]) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)),
    ];
    return this.call('UpdateFederation', { name: req.name, description: req.description ?? '', settings, updateMask });
  }

  /**
   * Marks a federation deleted (hidden from listings and lookups; its records stay, its name is
   * never reused) and its tracking experiment deleted. With `force`, a running run is stopped first.
   */
  deleteFederation(req: { name: string; force?: boolean }): Promise<DeleteFederationResponse__Output> {
    return this.call('DeleteFederation', { name: req.name, force: req.force === true });
  }

  async listFederations(): Promise<Federation__Output[]> {
    const res = await this.call<ListFederationsResponse__Output>('ListFederations', {});
    return res.federations;
  }

  /** Approves a site's public key and makes it a member of `federations`. */
  addSite(req: { name: string; publicKey: Uint8Array; federations: string[] }): Promise<Site__Output> {
    return this.call('AddSite', { name: req.name, publicKey: req.publicKey, federations: req.federations });
  }

  /** All sites, or the members of `federation`. */
  async listSites(federation?: string): Promise<Site__Output[]> {
    const res = await this.call<ListSitesResponse__Output>('ListSites', { federation: federation ?? '' });
    return res.sites;
  }

  /** Revokes a site's key: its calls and updates are refused from now on. */
  revokeSite(name: string): Promise<Site__Output> {
    return this.call('RevokeSite', { name });
  }

  /** Takes a site out of every federation and revokes its key; the record stays, marked removed. */
  removeSite(name: string): Promise<Site__Output> {
    return this.call('RemoveSite', { name });
  }

  /** Trusts a revoked or removed site's key again; `addSite` with that key re-adds it to federations. */
  restoreSite(name: string): Promise<Site__Output> {
    return this.call('RestoreSite', { name });
  }

  /** Pending invitations (not used, expired or revoked), newest first, without their tokens. */
  async listInvitations(federation?: string): Promise<Invitation__Output[]> {
    const res = await this.call<ListInvitationsResponse__Output>('ListInvitations', { federation: federation ?? '' });
    return res.invitations;
  }

  /** Revokes a pending invitation by its id: its token no longer enrolls. */
  revokeInvitation(id: string): Promise<Invitation__Output> {
    return this.call('RevokeInvitation', { id });
  }

  /**
   * A NATS user JWT for `site`, issued to the user nkey `userPublicKey` (whose seed stays with
   * the caller), scoped as the coordinator scopes the SDK's. @param req.ttlSeconds @default the coordinator's siteCredentialTtl
   */
  issueSiteNatsCredentials(req: { site: string; userPublicKey: string; ttlSeconds?: number }): Promise<NatsCredentials__Output> {
    return this.call('IssueSiteNatsCredentials', { site: req.site, userPublicKey: req.userPublicKey, ttlSeconds: req.ttlSeconds ?? 0 });
  }

  /**
   * An aggregation worker's NATS user JWT for the nkey `userPublicKey` (its seed stays with the
   * caller), the coordinator's public key and the worker's subjects. The calling key must be a
   * principal in the group "aggregators" with read on federation:*.
   */
  joinAggregation(req: { userPublicKey: string; ttlSeconds?: number }): Promise<AggregationCredentials__Output> {
    return this.call('JoinAggregation', { userPublicKey: req.userPublicKey, ttlSeconds: req.ttlSeconds ?? 0 });
  }

  /** Mints a one-time enrollment token. @param req.ttlSeconds @default 86400 (server side) */
  createInvitation(req: { federations: string[]; siteName?: string; ttlSeconds?: number }): Promise<Invitation__Output> {
    return this.call('CreateInvitation', {
      federations: req.federations,
      siteName: req.siteName ?? '',
      ttlSeconds: req.ttlSeconds ?? 0,
    });
  }

  /**
   * Starts a run of the federation; `rounds` overrides the federation's setting. Retried while
   * the coordinator is unavailable under one request id (random unless given), so a retry after
   * a lost answer or a coordinator crash returns the run the first attempt started.
   */
  startRun(federation: string, opts: { rounds?: number; requestId?: string } = {}): Promise<Run__Output> {
    const request = { federation, rounds: opts.rounds ?? 0, requestId: opts.requestId ?? randomBytes(16).toString('hex') };
    return retry(() => this.call<Run__Output>('StartRun', request), { policy: this.retry });
  }

  stopRun(runId: string, reason?: string): Promise<Run__Output> {
    return this.call('StopRun', { runId, reason: reason ?? '' });
  }

  getRun(runId: string): Promise<Run__Output> {
    return this.call('GetRun', { runId });
  }

  /** Runs, newest first; all federations when `federation` is omitted. */
  async listRuns(federation?: string): Promise<Run__Output[]> {
    const res = await this.call<ListRunsResponse__Output>('ListRuns', { federation: federation ?? '' });
    return res.runs;
  }

  /**
   * A run's events: SNAPSHOT first, RUN_ENDED last (then the stream ends). `detail`: how much of
   * the round update-level events carry (RunEventDetail). @default 'RUN_EVENT_DETAIL_FULL'
   */
  watchRun(runId: string, opts: { signal?: AbortSignal; detail?: RunEventDetail } = {}): AsyncIterable<RunEvent__Output> {
    const { detail, ...callOpts } = opts;
    return this.rpc.serverStream('WatchRun', { runId, detail: detail ?? 'RUN_EVENT_DETAIL_FULL' }, callOpts);
  }

  /**
   * Follows a run until it ends and returns its final state. A dropped stream is watched again
   * (the new SNAPSHOT tells whether the run ended meanwhile).
   */
  waitForRun(
    runId: string,
    opts: Pick<RunWaitOptions, 'signal' | 'onEvent' | 'detail'> = {},
  ): Promise<Run__Output> {
    return waitForRun(this.rpc, runId, { ...opts, retry: this.retry });
  }

  /** Rounds of a run, in order. */
  async listRounds(runId: string): Promise<Round__Output[]> {
    const res = await this.call<ListRoundsResponse__Output>('ListRounds', { runId });
    return res.rounds;
  }

  getRound(runId: string, n: number): Promise<Round__Output> {
    return this.call('GetRound', { runId, number: n });
  }

  /** A one-time login token for the coordinator's web dashboard (FAILED_PRECONDITION when it is off). */
  createDashboardSession(): Promise<DashboardLogin__Output> {
    return this.call('CreateDashboardSession', {});
  }

  /** Model versions of a federation, oldest first. */
  async listModelVersions(federation: string): Promise<ModelVersion__Output[]> {
    const res = await this.call<ListModelVersionsResponse__Output>('ListModelVersions', { federation });
    return res.versions;
  }

  /**
   * Applies the federation's blob retention policy (`keep_versions`): deletes the blobs of older
   * model versions that nothing kept needs, and says how many bytes that freed.
   */
  collectGarbage(federation: string): Promise<CollectGarbageResponse__Output> {
    return this.call('CollectGarbage', { federation });
  }

  /**
   * Downloads a model version (the latest when `version` is omitted or 0) as safetensors bytes.
   * A transient failure resumes from the last received offset; the whole payload's SHA-256 and
   * size are checked (DATA_LOSS / DIGEST_MISMATCH or SIZE_MISMATCH otherwise).
   */
  downloadModel(
    federation: string,
    version?: number,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ version: number; sha256: string; bytes: Buffer }> {
    return downloadModel(this.rpc, { federation, version: version ?? 0 }, { ...opts, retry: this.retry });
  }

  /**
   * Metric points of a federation's sites as the coordinator stores them, live (no history);
   * only one run's, or only some keys', when asked. Runs until `signal` aborts or the loop breaks.
   */
  watchMetrics(
    federation: string,
    opts: { runId?: string; keys?: readonly string[]; signal?: AbortSignal } = {},
  ): AsyncIterable<MetricEvent__Output> {
    return this.rpc.serverStream(
      'WatchMetrics',
      { federation, runId: opts.runId ?? '', keys: [...(opts.keys ?? [])] },
      opts.signal === undefined ? {} : { signal: opts.signal },
    );
  }

  /**
   * The run's own series of `key` and each site's; the federation's latest run when `runId` is
   * omitted. Series longer than `maxPoints` (default and at most 10,000) come back thinned evenly.
   */
  getMetricHistory(federation: string, key: string, opts: { runId?: string; maxPoints?: number } = {}): Promise<GetMetricHistoryResponse__Output> {
    return this.call('GetMetricHistory', { federation, key, runId: opts.runId ?? '', maxPoints: opts.maxPoints ?? 0 });
  }

  /**
   * Runs of a federation in the tracking store, MLflow style: `filter` such as
   * `metrics.accuracy > 0.9`, `orderBy` such as `['metrics.accuracy DESC']`.
   * @param opts.maxResults @default 100 (server side), at most 1000
   */
  searchRuns(
    federation: string,
    opts: { filter?: string; orderBy?: readonly string[]; maxResults?: number; pageToken?: string } = {},
  ): Promise<SearchRunsResponse__Output> {
    return this.call('SearchRuns', {
      federation,
      filter: opts.filter ?? '',
      orderBy: [...(opts.orderBy ?? [])],
      maxResults: opts.maxResults ?? 0,
      pageToken: opts.pageToken ?? '',
    });
  }

  /**
   * Entries of the coordinator's audit log, oldest first, streamed: only those at or after
   * `sinceMs`, of `principal` (a key id or a name), naming `federation`; the newest `limit` of
   * them when set (at most 100,000), every one when not.
   */
  auditEntries(opts: { sinceMs?: number; principal?: string; federation?: string; limit?: number; signal?: AbortSignal } = {}): AsyncIterable<AuditEntry__Output> {
    return this.rpc.serverStream(
      'ListAuditEntries',
      { sinceMs: opts.sinceMs ?? 0, principal: opts.principal ?? '', federation: opts.federation ?? '', limit: opts.limit ?? 0 },
      opts.signal === undefined ? {} : { signal: opts.signal },
    );
  }

  /** Has the coordinator check its audit log: the hash chain, the signed heads and seals; the first break when there is one. */
  verifyAuditLog(): Promise<AuditVerification__Output> {
    return this.call('VerifyAuditLog', {});
  }

  /** Closes the channel; calls in flight fail. */
  close(): void {
    this.rpc.close();
  }

  /** Adds a principal: a named admin-side key, optionally in groups; it may do nothing until granted. */
  addPrincipal(req: { name: string; publicKey: Uint8Array; groups?: string[]; description?: string }): Promise<Principal__Output> {
    return this.call('AddPrincipal', { name: req.name, publicKey: req.publicKey, groups: req.groups ?? [], description: req.description ?? '' });
  }

  /** The owners (bootstrap keys) and the principals added at run time. */
  async listPrincipals(): Promise<Principal__Output[]> {
    const res = await this.call<ListPrincipalsResponse__Output>('ListPrincipals', {});
    return res.principals;
  }

  /** Refuses the principal's calls from its next one on. */
  disablePrincipal(name: string): Promise<Principal__Output> {
    return this.call('DisablePrincipal', { name });
  }

  /** Replaces the principal's key; the old key is refused from the next call on. */
  rotatePrincipalKey(name: string, publicKey: Uint8Array): Promise<Principal__Output> {
    return this.call('RotatePrincipalKey', { name, publicKey });
  }

  /**
   * Grants `privilege` (read, operate, admin) on `resource` (`federation:<name>`, `federation:*`)
   * to `grantee` (`principal:<name>`, `group:<name>`).
   */
  grant(req: { privilege: string; resource: string; grantee: string }): Promise<Grant__Output> {
    return this.call('GrantPrivilege', req);
  }

  /** Removes one grant. */
  revokeGrant(req: { privilege: string; resource: string; grantee: string }): Promise<Grant__Output> {
    return this.call('RevokePrivilege', req);
  }

  /** Grants on federations the caller may read, of `principal` and covering `federation` when given. */
  async listGrants(filter: { principal?: string; federation?: string } = {}): Promise<Grant__Output[]> {
    const res = await this.call<ListGrantsResponse__Output>('ListGrants', { principal: filter.principal ?? '', federation: filter.federation ?? '' });
    return res.grants;
  }

  private call<Res>(method: string, request: object): Promise<Res> {
    return this.rpc.unary<object, Res>(method, request, { timeoutMs: this.callTimeoutMs });
  }
}

/** A safetensors file as a model source: hashed in one pass, then streamed in a second. */
async function modelFile(file: string): Promise<InitialModelSource> {
  const { size } = await stat(file);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: MODEL_CHUNK_BYTES })) hash.update(chunk as Buffer);
  return { size, sha256: hash.digest('hex'), chunks: createReadStream(file, { highWaterMark: MODEL_CHUNK_BYTES }) as AsyncIterable<Buffer> };
}
