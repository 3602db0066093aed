import type { NatsConnection } from 'nats';
import {
  PUBLIC_KEY_BYTES,
  Reason,
  RpcClient,
  TributaryError,
  abortError,
  keyIdOf,
  decodeSafetensors,
  downloadModel,
  readKeyFile,
  signBytesNative,
  throwIfAborted,
} from '@tributary/proto';
import type { EnrollRequest, EnrollResponse__Output, SiteFailure__Output, Site__Output, Signer, SigningKey, TensorMap, WhoAmIRequest, WhoAmIResponse__Output } from '@tributary/proto';
import { channelCredentials, compileSiteClientOptions } from './options.js';
import type { CompiledNatsAuth, CompiledSiteClientOptions, SiteClientOptions } from './options.js';
import { describeError, logDownloadRetry } from './logging.js';
import { MetricsPublisher } from './metrics.js';
import { participate } from './participate.js';
import type { Participant, ParticipateOptions } from './participate.js';
import type { SiteSession } from './session.js';
import { NatsCredentialLease } from './nats-credentials.js';
import { SiteNatsConnection } from './nats-connection.js';
import { linkSignals, raceAbort } from './signals.js';
import { ActiveSiteTask } from './site-task.js';
import { submitUpdate } from './submission.js';
import { reportTaskFailure } from './heartbeat.js';
import { submitEvaluation, type EvaluationResult } from './evaluation.js';
import { TaskLedger, watchTasks } from './task-stream.js';
import type { ParticipationSummary, RunEnd, SiteTask, TrainFn, TrainResult, UpdateVerdict } from './types.js';

/** How long connect waits for WhoAmI. */
const CONNECT_TIMEOUT_MS = 15_000;
/** How long close waits for buffered metrics and the NATS drain. */
const CLOSE_GRACE_MS = 5_000;

/**
 * A partner site's connection to a Tributary federation: watches its tasks over gRPC, hands
 * the global model to your training code, and publishes signed updates over NATS JetStream.
 */
export class SiteClient {
  /** The site's name, as registered with the coordinator. */
  readonly site: string;
  readonly #session: SiteSession;
  readonly #closing = new AbortController();
  readonly #ledger = new TaskLedger();
  readonly #metrics: MetricsPublisher;
  #closed: Promise<void> | undefined;

  private constructor(session: SiteSession) {
    this.site = session.site;
    this.#session = session;
    this.#metrics = new MetricsPublisher(session);
  }

  /**
   * Joins with a one-time invitation token minted by an admin (`tributary site invite`): the
   * coordinator records this key as the site's. Then `connect()` as usual.
   */
  static async enroll(opts: {
    coordinator: string;
    key: SigningKey | string;
    invitationToken: string;
    /** Needed when the invitation does not name the site. */
    siteName?: string;
    credentials?: SiteClientOptions['credentials'];
    /** TLS to the coordinator from PEM files, as `connect` takes it. */
    tls?: SiteClientOptions['tls'];
  }): Promise<Site__Output> {
    const { key, rpc } = await siteRpc({ coordinator: opts.coordinator, key: opts.key, credentials: channelCredentials(opts.credentials, opts.tls) });
    try {
      const request: EnrollRequest = { invitationToken: opts.invitationToken, siteName: opts.siteName ?? '', publicKey: Buffer.from(key.publicKey) };
      const response = await rpc.unary<EnrollRequest, EnrollResponse__Output>('Enroll', request);
      if (!response.site) throw TributaryError.internal('enrollment returned no site');
      return response.site;
    } catch (err) {
      throw TributaryError.from(err);
    } finally {
      rpc.close();
    }
  }

  /**
   * Connects to the coordinator (gRPC, every call signed with the site's key) and to NATS, and
   * learns the site's name with WhoAmI. Fails with a TributaryError naming what is wrong: bad
   * options (INVALID_ARGUMENT), an unreadable key file, an unreachable server (UNAVAILABLE), a
   * key the coordinator does not know or one that is not a site's (PERMISSION_DENIED), a
   * coordinator whose verdict key is not the pinned `coordinatorKey` (COORDINATOR_KEY_MISMATCH).
   */
  static async connect(opts: SiteClientOptions): Promise<SiteClient> {
    const options = compileSiteClientOptions(opts);
    const { key, rpc } = await siteRpc({ coordinator: options.coordinator, key: options.key, credentials: options.credentials, signer: options.signer });
    let nats: SiteNatsConnection | undefined;
    let natsCredentials: NatsCredentialLease | undefined;
    try {
      const who = await whoAmI(rpc, options, key);
      const { site, coordinatorKey } = who;
      // Credentials the operator configured win; else the coordinator issues the site's own NATS user.
      if (who.natsCredentialsRequired && !hasOwnNatsCredentials(options.natsAuth)) {
        natsCredentials = await NatsCredentialLease.obtain({ rpc, logger: options.logger, retry: options.retry });
      }
      nats = await SiteNatsConnection.open(options, site, natsCredentials);
      const lease = natsCredentials;
      lease?.start(nats.nc);
      const connection = nats;
      const session: SiteSession = {
        site,
        key,
        coordinatorKey,
        options,
        logger: options.logger,
        rpc,
        nats: connection,
        get nc() {
          return connection.nc;
        },
        get js() {
          return connection.js;
        },
        ...(lease === undefined ? {} : { natsCredentials: lease }),
      };
      const client = new SiteClient(session);
      client.#watchConnection(nats.nc);
      nats.onSwitch((nc) => {
        lease?.start(nc);
        client.#watchConnection(nc);
      });
      options.logger.info({ site, coordinator: options.coordinator, nats: options.nats }, 'site connected');
      return client;
    } catch (err) {
      natsCredentials?.close();
      rpc.close();
      if (nats !== undefined) await nats.nc.close().catch(() => undefined);
      throw TributaryError.from(err);
    }
  }

  /**
   * The site's tasks in a federation, each with its global model downloaded and checked.
   * Reconnects with backoff after transient failures, skips tasks already handed out, and ends
   * when `signal` aborts or the client closes. Throws for permanent failures (not a member,
   * unknown federation, revoked key).
   */
  async *tasks(federation: string, opts: { signal?: AbortSignal } = {}): AsyncGenerator<SiteTask, void, undefined> {
    for await (const item of this.#taskEvents(federation, opts.signal)) {
      if (item instanceof ActiveSiteTask) yield item;
    }
  }

  /**
   * The next task in a federation. Rejects with DEADLINE_EXCEEDED after `timeoutMs`, or with
   * the abort error when `signal` aborts or the client closes.
   */
  async nextTask(federation: string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<SiteTask> {
    this.#assertOpen();
    const { timeoutMs } = opts;
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      throw TributaryError.invalidArgument(`nextTask: timeoutMs must be a positive number of ms, got ${String(timeoutMs)}`);
    }
    const wait = linkSignals(
      [opts.signal, this.#closing.signal],
      timeoutMs === undefined
        ? {}
        : {
            deadline: {
              atMs: Date.now() + timeoutMs,
              reason: () =>
                TributaryError.of(Reason.DEADLINE_EXCEEDED, `no task for federation "${federation}" within ${timeoutMs} ms`),
            },
          },
    );
    try {
      for await (const item of this.#watchTasks(federation, wait.signal, opts.signal)) {
        if (item instanceof ActiveSiteTask) return item;
      }
      throw abortError(wait.signal);
    } finally {
      wait.dispose();
    }
  }

  /**
   * Sends `result` as this site's update for `task` and waits for the coordinator's verdict.
   * Checks the weights against the task's model spec, finiteness and numExamples first
   * (INVALID_ARGUMENT with reason SCHEMA_MISMATCH, NON_FINITE or ZERO_EXAMPLES, nothing sent).
   * A refusal by the coordinator resolves as `{ accepted: false, reason }`.
   */
  async submit(task: SiteTask, result: TrainResult, opts: { signal?: AbortSignal } = {}): Promise<UpdateVerdict> {
    return this.#submitAfterMetrics(task, opts.signal, (signal) => submitUpdate(this.#session, task, result, signal));
  }

  /** Sends the result of an evaluation task (`task.kind === "evaluate"`) and waits for its verdict. */
  async submitEvaluation(task: SiteTask, result: EvaluationResult, opts: { signal?: AbortSignal } = {}): Promise<UpdateVerdict> {
    return this.#submitAfterMetrics(task, opts.signal, (signal) => submitEvaluation(this.#session, task, result, signal));
  }

  /**
   * Tells the coordinator that training for `task` failed, with `error`'s message (at most 512
   * characters): the round records the site's failure as SITE_ERROR, and the federation's
   * `on_site_error` decides what becomes of the round. For an evaluate task, the evaluation stops
   * waiting for this site. `participate` does this by itself when `train` or `evaluate` throws.
   * Resolves with the record of the failure; a repeat answers the same.
   */
  async reportFailure(task: Pick<SiteTask, 'federation' | 'runId' | 'round'> & { readonly kind?: string }, error: unknown, opts: { signal?: AbortSignal } = {}): Promise<SiteFailure__Output> {
    if (task instanceof ActiveSiteTask) task.stopHeartbeats();
    return this.#whileOpen(opts.signal, async (signal) => {
      try {
        return await raceAbort(reportTaskFailure(this.#session, task, error), signal);
      } catch (err) {
        throw TributaryError.from(err);
      }
    });
  }

  /**
   * Trains on every task of a federation with `train` and submits the results. A failing
   * `train` is logged and counted, and the site waits for the next task. Resolves with the
   * counts and how it ended (`summary.end`): when a run of the federation ends (the coordinator
   * tells its watching members), when `maxTasks` tasks were handled, or when `signal` aborts or
   * the client closes.
   */
  participate(federation: string, train: TrainFn, opts: ParticipateOptions = {}): Promise<ParticipationSummary> {
    this.#assertOpen();
    const participant: Participant = {
      taskEvents: (fed, o) => this.#taskEvents(fed, o.signal),
      submit: (task, result, o) => this.submit(task, result, o),
      submitEvaluation: (task, result, o) => this.submitEvaluation(task, result, o),
      reportFailure: (task, error) => this.reportFailure(task, error),
    };
    return participate(participant, this.#session.logger, federation, train, opts);
  }

  /** The federation's tasks and run ends, until `signal` aborts or the client closes. */
  async *#taskEvents(federation: string, signal: AbortSignal | undefined): AsyncGenerator<ActiveSiteTask | RunEnd, void, undefined> {
    this.#assertOpen();
    await this.#session.natsCredentials?.cover(federation);
    const stream = linkSignals([signal, this.#closing.signal]);
    try {
      yield* this.#watchTasks(federation, stream.signal, signal);
    } finally {
      stream.dispose();
    }
  }

  /**
   * A model version's payload exactly as committed (the latest by default), size- and
   * digest-checked. Decode an ensemble with `EnsembleModel.decode`.
   */
  async downloadModelBytes(
    federation: string,
    version = 0,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ version: number; sha256: string; bytes: Buffer }> {
    return this.#whileOpen(opts.signal, (signal) => {
      const { rpc, options, logger } = this.#session;
      return downloadModel(rpc, { federation, version }, { signal, retry: options.retry, onRetry: logDownloadRetry(logger, federation) });
    });
  }

  /** A model version of a federation (the latest by default), digest-checked and decoded. */
  async downloadModel(
    federation: string,
    version = 0,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ version: number; sha256: string; model: TensorMap }> {
    const payload = await this.downloadModelBytes(federation, version, opts);
    return { version: payload.version, sha256: payload.sha256, model: decodeSafetensors(payload.bytes).tensors };
  }

  /**
   * Stops everything in flight (task streams end, task signals abort, submits reject with
   * CANCELLED), publishes buffered metrics, drains NATS and closes gRPC. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    const { nats, rpc, logger, natsCredentials } = this.#session;
    natsCredentials?.close();
    this.#closing.abort(
      TributaryError.cancelled('the site client is closing'),
    );
    const grace = AbortSignal.timeout(CLOSE_GRACE_MS);
    const flushed = this.#metrics.flushAll();
    this.#metrics.close();
    await raceAbort(flushed, grace).catch(() => {
      logger.warn({}, 'metrics still buffered at close were dropped');
    });
    await nats.close(grace);
    rpc.close();
    logger.info({ site: this.site }, 'site client closed');
  }

  /** The federation's tasks and run ends until `signal` aborts; each task's signal follows the caller's and the client's. */
  #watchTasks(federation: string, signal: AbortSignal, callerSignal: AbortSignal | undefined): AsyncGenerator<ActiveSiteTask | RunEnd, void, undefined> {
    return watchTasks(
      { session: this.#session, ledger: this.#ledger, metrics: this.#metrics },
      { federation, signal, taskParents: [callerSignal, this.#closing.signal] },
    );
  }

  #assertOpen(): void {
    throwIfAborted(this.#closing.signal);
  }

  /** Runs `call` with a signal that aborts with the caller's `signal` or when the client closes. */
  async #whileOpen<T>(signal: AbortSignal | undefined, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    this.#assertOpen();
    const op = linkSignals([signal, this.#closing.signal]);
    try {
      return await call(op.signal);
    } finally {
      op.dispose();
    }
  }

  /**
   * Publishes the metrics the task logged so far, then its result with `send`. Once a verdict
   * arrives the task is over: its signal lets go of the caller's signal and the client's.
   */
  #submitAfterMetrics(task: SiteTask, signal: AbortSignal | undefined, send: (signal: AbortSignal) => Promise<UpdateVerdict>): Promise<UpdateVerdict> {
    return this.#whileOpen(signal, async (op) => {
      const covered = this.#session.natsCredentials?.cover(task.federation);
      if (covered !== undefined) await raceAbort(covered, op);
      if (task instanceof ActiveSiteTask) await raceAbort(task.flushMetrics(), op);
      const verdict = await send(op);
      if (task instanceof ActiveSiteTask) task.release();
      return verdict;
    });
  }

  /** Logs NATS disconnects and reconnects; ends with the connection. */
  #watchConnection(nc: NatsConnection): void {
    const { logger } = this.#session;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'error') {
          logger.warn({ type: s.type, data: String(s.data) }, 'NATS connection problem');
        } else if (s.type === 'reconnect') {
          logger.info({ data: String(s.data) }, 'NATS reconnected');
        }
      }
    })().catch(() => undefined);
    void nc.closed().then((err) => {
      if (err !== undefined && !this.#closing.signal.aborted && nc === this.#session.nc) {
        logger.warn({ err: describeError(err) }, 'NATS connection closed');
      }
    });
  }
}

/** The site's key, read from its file when given a path, and a SiteService client signing with it. */
async function siteRpc(opts: {
  coordinator: string;
  key: SigningKey | string;
  credentials: SiteClientOptions['credentials'];
  /** How calls are signed; node:crypto when not told. */
  signer?: Signer;
}): Promise<{ key: SigningKey; rpc: RpcClient }> {
  const { coordinator, key, credentials } = opts;
  const signingKey = typeof key === 'string' ? await readKeyFile(key) : key;
  const rpc = new RpcClient({
    address: coordinator,
    key: signingKey,
    signer: opts.signer ?? signBytesNative,
    service: 'SiteService',
    ...(credentials === undefined ? {} : { credentials }),
  });
  return { key: signingKey, rpc };
}

/** The site's name, the coordinator's verdict key (checked against the pinned one) and whether NATS needs issued credentials. */
async function whoAmI(rpc: RpcClient, options: CompiledSiteClientOptions, key: SigningKey): Promise<{ site: string; coordinatorKey: Uint8Array | undefined; natsCredentialsRequired: boolean }> {
  let who: WhoAmIResponse__Output;
  try {
    who = await rpc.unary<WhoAmIRequest, WhoAmIResponse__Output>('WhoAmI', {}, { timeoutMs: CONNECT_TIMEOUT_MS });
  } catch (err) {
    const e = TributaryError.from(err);
    if (e.code !== 'UNAVAILABLE' && e.code !== 'DEADLINE_EXCEEDED') throw e;
    throw TributaryError.of(e.reason, `cannot reach the coordinator at ${options.coordinator}: ${e.message}`, { code: e.code, cause: e });
  }
  if (who.role !== 'site') {
    throw TributaryError.of(
      Reason.PERMISSION_DENIED,
      `key ${key.keyId} is ${who.role === '' ? 'not a site key' : `an ${who.role} key, not a site key`}: SiteClient needs the key of a site added to the coordinator or enrolled with an invitation`,
    );
  }
  const site = who.site?.name ?? '';
  if (site === '') {
    throw TributaryError.internal('WhoAmI named no site for a site key');
  }
  return { site, coordinatorKey: coordinatorKeyOf(who, options), natsCredentialsRequired: who.natsCredentialsRequired };
}

/** The key verdicts must verify with: the pinned one, which the coordinator must present, or the one it presents. */
function coordinatorKeyOf(who: WhoAmIResponse__Output, options: CompiledSiteClientOptions): Uint8Array | undefined {
  const presented = who.coordinatorKey.length === PUBLIC_KEY_BYTES ? Uint8Array.from(who.coordinatorKey) : undefined;
  const pinned = options.coordinatorKey;
  if (pinned !== undefined) {
    if (presented === undefined || !Buffer.from(presented).equals(pinned)) {
      throw TributaryError.of(
        Reason.COORDINATOR_KEY_MISMATCH,
        `the coordinator at ${options.coordinator} presents ${presented === undefined ? 'no verdict key' : `key id ${keyIdOf(presented)}`}, not the pinned key id ${keyIdOf(pinned)}`,
        { retryable: false },
      );
    }
    return pinned;
  }
  if (presented === undefined) {
    options.logger.warn({ coordinator: options.coordinator }, 'the coordinator names no verdict key; verdicts on NATS are ignored and polled with GetUpdateStatus');
  }
  return presented;
}

/** True when `natsAuth` names credentials (not only TLS files). */
function hasOwnNatsCredentials(auth: CompiledNatsAuth | undefined): boolean {
  return auth !== undefined && (auth.user !== undefined || auth.token !== undefined || auth.credsFile !== undefined);
}
