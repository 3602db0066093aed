import {
  Reason,
  RpcClient,
  NAME_PATTERN,
  TributaryError,
  createFederation,
  decodeSafetensors,
  downloadModel,
  encodeSafetensors,
  generateSigningKey,
  isReasonCode,
  isValidName,
  readKeyFile,
  waitForRun,
} from '@tributary/proto';
import type {
  AddSiteRequest,
  FederationSettings,
  ListRoundsRequest,
  ListRoundsResponse__Output,
  Round__Output,
  RunStatus__Output,
  Run__Output,
  StartRunRequest,
  StopRunRequest,
  TensorMap,
} from '@tributary/proto';
import type { EvaluationResult } from '../evaluation.js';
import type { SiteClientOptions } from '../options.js';
import { linkSignals, raceAbort } from '../signals.js';
import { SiteClient } from '../site-client.js';
import type { ParticipationEnd, ParticipationSummary, SiteTask, TrainResult, UpdateVerdict } from '../types.js';
import { runEndStatusOf } from '../site-task.js';
import { DevProcess } from './dev-process.js';

/** Options of `LocalFederation.start`. */
export interface LocalFederationOptions {
  /** The initial global model: version 1 of the federation; its tensors are the model spec. */
  model: TensorMap;
  /** How many sites take part (named `site-1`, `site-2`, ...), or their names. @default 2 */
  sites?: number | readonly string[];
  /** Rounds of each run. @default 1 */
  rounds?: number;
  /** Aggregation strategy. @default "fedavg" */
  strategy?: string;
  /** Strategy options, e.g. `{ mu: '0.01' }` for fedprox; sites see them as `task.config`. */
  strategyOptions?: Record<string, string>;
  /** Seconds a round waits for updates. @default 60 */
  roundDeadlineSeconds?: number;
  /** Other federation settings (`evaluateEvery`, `normBound`, ...). The options above take precedence. */
  settings?: FederationSettings;
  /** The federation's name. @default "local" */
  federation?: string;
  /** Options of every site's `SiteClient` (logger, retry, ...). */
  siteOptions?: Omit<SiteClientOptions, 'coordinator' | 'nats' | 'key'>;
  /** Log level of the coordinator; its log is copied to stderr when `printLogs` is set. @default "warn" */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** Prints the coordinator's log to stderr. @default false */
  printLogs?: boolean;
  /** How long `start` waits for nats-server and the coordinator. @default 30_000 */
  startTimeoutMs?: number;
}

/** A site of the local federation, as `train` sees it: tell sites apart to give each its own data. */
export interface LocalSite {
  readonly name: string;
  /** 0-based position in `LocalFederation.sites`. */
  readonly index: number;
}

/** A site's training code: a `TrainFn` that may also look at which site it runs for. */
export type LocalTrainFn = (task: SiteTask, site: LocalSite) => Promise<TrainResult>;

/** Options of `LocalFederation.run`. */
export interface LocalRunOptions {
  /** Rounds of this run. @default the federation's `rounds` */
  rounds?: number;
  /** Federated evaluation, for federations with `settings.evaluateEvery`. */
  evaluate?: (task: SiteTask, site: LocalSite) => Promise<EvaluationResult>;
  /** The run is stopped and `run` rejects (DEADLINE_EXCEEDED) after this long. @default 120_000 */
  timeoutMs?: number;
  /** Stops the run; `run` rejects with the abort error. */
  signal?: AbortSignal;
}

/** How a run ended. */
export interface LocalRunResult {
  readonly runId: string;
  /** `RUN_STATUS_FINISHED` when every round committed. */
  readonly status: RunStatus__Output;
  readonly failureReason: string;
  /** The run's rounds in order: state, committed version, accepted updates, metrics. */
  readonly rounds: readonly Round__Output[];
  /** The federation's latest model version after the run. */
  readonly modelVersion: number;
  /** What each site did, by site name. */
  readonly sites: Readonly<Record<string, ParticipationSummary>>;
}

/** The latest model of the federation, digest-checked and decoded. */
export interface LocalModel {
  readonly version: number;
  readonly sha256: string;
  readonly model: TensorMap;
}

const DEFAULT_SITES = 2;
const DEFAULT_ROUNDS = 1;
const DEFAULT_DEADLINE_SECONDS = 60;
const DEFAULT_FEDERATION = 'local';
const DEFAULT_START_TIMEOUT_MS = 30_000;
const DEFAULT_RUN_TIMEOUT_MS = 120_000;
const ADMIN_CALL_TIMEOUT_MS = 30_000;
/** How long verdicts still on their way when a run ends are waited for. */
const VERDICT_GRACE_MS = 10_000;
const LOG_LEVELS: readonly string[] = ['error', 'warn', 'info', 'debug'];
const OPTIONS = 'LocalFederationOptions';

interface Member extends LocalSite {
  readonly client: SiteClient;
}

/** What each site's loop needs during one run. */
interface SiteRunContext {
  readonly runId: string;
  readonly train: LocalTrainFn;
  readonly evaluate: LocalRunOptions['evaluate'];
  /** Ends the task streams (the run is over, or failed). */
  readonly tasks: AbortSignal;
  /** Cancels training and submissions. */
  readonly work: AbortSignal;
  readonly fail: (err: unknown) => void;
}

/**
 * A federation on this machine for testing a site's code: `tributary dev` (nats-server and a
 * coordinator, from `@tributary/coordinator`) in a child process, a federation created from
 * your initial model, and sites with fresh keys, each connected with a `SiteClient`. See the
 * module's documentation for an example.
 */
export class LocalFederation {
  /** The federation's name. */
  readonly federation: string;
  /** The sites' names, in order. */
  readonly sites: readonly string[];
  /** The coordinator's gRPC address, for your own `SiteClient`s or the `tributary` CLI. */
  readonly coordinator: string;
  /** The nats-server URL. */
  readonly nats: string;
  /** The admin key file (for `tributary --key` or an `AdminClient`). */
  readonly adminKeyFile: string;
  readonly #dev: DevProcess;
  readonly #admin: RpcClient;
  readonly #members: Member[];
  #running = false;
  #closed: Promise<void> | undefined;

  private constructor(init: { federation: string; dev: DevProcess; admin: RpcClient; members: Member[] }) {
    this.federation = init.federation;
    this.#dev = init.dev;
    this.#admin = init.admin;
    this.#members = init.members;
    this.sites = init.members.map((m) => m.name);
    this.coordinator = init.dev.env.coordinator;
    this.nats = init.dev.env.nats;
    this.adminKeyFile = init.dev.env.keyFile;
  }

  /**
   * Starts nats-server and a coordinator, creates the federation with `model` as version 1, and
   * adds and connects the sites. Needs `@tributary/coordinator` installed and nats-server on
   * PATH (FAILED_PRECONDITION otherwise, saying what to install).
   */
  static async start(opts: LocalFederationOptions): Promise<LocalFederation> {
    const options = compileOptions(opts);
    const dev = await DevProcess.start({ logLevel: options.logLevel, printLogs: options.printLogs, startTimeoutMs: options.startTimeoutMs });
    let admin: RpcClient | undefined;
    const members: Member[] = [];
    try {
      admin = new RpcClient({ address: dev.env.coordinator, key: await readKeyFile(dev.env.keyFile), service: 'AdminService' });
      await createFederation(
        admin,
        { name: options.federation, description: 'local federation (@tributary/client-sdk/testing)', settings: options.settings },
        encodeSafetensors(options.model),
        { timeoutMs: ADMIN_CALL_TIMEOUT_MS },
      );
      for (const [index, name] of options.sites.entries()) {
        const key = generateSigningKey(name);
        await adminCall<AddSiteRequest>(admin, 'AddSite', { name, publicKey: key.publicKey, federations: [options.federation] });
        const client = await SiteClient.connect({ ...options.siteOptions, coordinator: dev.env.coordinator, nats: dev.env.nats, key });
        members.push({ name, index, client });
      }
      return new LocalFederation({ federation: options.federation, dev, admin, members });
    } catch (err) {
      await Promise.allSettled(members.map((m) => m.client.close()));
      admin?.close();
      await dev.stop();
      throw withLog(err, dev);
    }
  }

  /**
   * Runs the federation once, every site training with `train`, and resolves when the run has
   * ended, whatever its status. An error thrown by `train`, or an update the SDK or the
   * coordinator refuses, stops the run at once and `run` rejects with it.
   */
  async run(train: LocalTrainFn, opts: LocalRunOptions = {}): Promise<LocalRunResult> {
    this.#assertOpen();
    if (typeof train !== 'function') throw invalid('LocalFederation.run: train', 'a function', train);
    if (opts.evaluate !== undefined && typeof opts.evaluate !== 'function') throw invalid('LocalRunOptions.evaluate', 'a function', opts.evaluate);
    const rounds = opts.rounds === undefined ? 0 : positiveInteger('LocalRunOptions.rounds', opts.rounds);
    const timeoutMs = opts.timeoutMs === undefined ? DEFAULT_RUN_TIMEOUT_MS : positiveInteger('LocalRunOptions.timeoutMs', opts.timeoutMs);
    if (this.#running) {
      throw TributaryError.of(Reason.RUN_ALREADY_RUNNING, `a run of ${this.federation} is already going on`);
    }
    this.#running = true;
    // `work` cancels training and submissions (a failure, the timeout, the caller); `tasks`
    // also ends the sites' task streams when the run is over.
    const work = linkSignals([opts.signal], {
      deadline: {
        atMs: Date.now() + timeoutMs,
        reason: () => TributaryError.of(Reason.DEADLINE_EXCEEDED, `the run did not end within ${timeoutMs} ms`),
      },
    });
    const tasks = linkSignals([work.signal]);
    let failure: unknown;
    const fail = (err: unknown): void => {
      failure ??= err;
      work.abort(err);
    };
    let sites: Promise<ParticipationSummary>[] = [];
    try {
      const run = await adminCall<StartRunRequest, Run__Output>(this.#admin, 'StartRun', { federation: this.federation, rounds });
      const ctx = { runId: run.id, train, evaluate: opts.evaluate, tasks: tasks.signal, work: work.signal, fail };
      sites = this.#members.map((member) => this.#takePart(member, ctx));
      let ended: Run__Output;
      try {
        ended = await waitForRun(this.#admin, run.id, { signal: work.signal });
      } catch (err) {
        await adminCall<StopRunRequest>(this.#admin, 'StopRun', { runId: run.id, reason: 'stopped by LocalFederation.run' }).catch(() => undefined);
        throw withLog(failure ?? err, this.#dev);
      }
      // Updates of the last round may still be waiting for their verdicts: let them finish.
      tasks.abort(runEnded());
      const grace = setTimeout(() => work.abort(runEnded()), VERDICT_GRACE_MS);
      const summaries = await Promise.all(sites).finally(() => clearTimeout(grace));
      const { rounds: roundList } = await adminCall<ListRoundsRequest, ListRoundsResponse__Output>(this.#admin, 'ListRounds', { runId: run.id });
      return {
        runId: run.id,
        status: ended.status,
        failureReason: ended.failureReason,
        rounds: roundList,
        modelVersion: ended.latestVersion,
        sites: Object.fromEntries(this.#members.map((m, i) => [m.name, { ...(summaries[i] as ParticipationSummary), end: runEndedSummary(ended) }])),
      };
    } finally {
      tasks.abort(runEnded());
      await Promise.allSettled(sites);
      tasks.dispose();
      work.dispose();
      this.#running = false;
    }
  }

  /** The federation's latest model version, digest-checked and decoded. */
  async latestModel(opts: { signal?: AbortSignal } = {}): Promise<LocalModel> {
    this.#assertOpen();
    const { version, sha256, bytes } = await downloadModel(this.#admin, { federation: this.federation }, opts);
    return { version, sha256, model: decodeSafetensors(bytes).tensors };
  }

  /** Closes the sites' connections and stops the coordinator and nats-server. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.allSettled(this.#members.map((m) => m.client.close()));
      this.#admin.close();
      await this.#dev.stop();
    })();
    return this.#closed;
  }

  /**
   * One site's part in a run: each of its tasks trained (or evaluated) and submitted, until
   * `tasks` aborts. Its first failure or refusal goes to `fail`, which stops the run.
   */
  async #takePart(member: Member, ctx: SiteRunContext): Promise<ParticipationSummary> {
    const site: LocalSite = { name: member.name, index: member.index };
    const summary: ParticipationSummary = { tasks: 0, accepted: 0, refused: 0, failed: 0, end: { how: 'stopped' } };
    const stopped = (): boolean => ctx.tasks.aborted;
    try {
      for await (const task of member.client.tasks(this.federation, { signal: ctx.tasks })) {
        if (task.runId !== ctx.runId) continue;
        summary.tasks++;
        let verdict: UpdateVerdict;
        try {
          verdict = await this.#complete(task, member, ctx);
        } catch (err) {
          if (stopped()) break;
          summary.failed++;
          throw err;
        }
        if (verdict.accepted) {
          summary.accepted++;
          continue;
        }
        summary.refused++;
        throw TributaryError.of(
          isReasonCode(verdict.reason) ? verdict.reason : Reason.UNKNOWN,
          `the coordinator refused ${site.name}'s update for round ${task.round}: ${verdict.reason} ${verdict.message}`,
          { code: 'FAILED_PRECONDITION' },
        );
      }
    } catch (err) {
      if (!stopped()) ctx.fail(err);
    }
    return summary;
  }

  /** Trains (or evaluates) one task with the user's callback and submits the result. */
  async #complete(task: SiteTask, member: Member, ctx: SiteRunContext): Promise<UpdateVerdict> {
    const { client } = member;
    const site: LocalSite = { name: member.name, index: member.index };
    const signal = ctx.work;
    if (task.kind !== 'evaluate') {
      const result = await raceAbort(ctx.train(task, site), signal);
      return client.submit(task, result, { signal });
    }
    if (ctx.evaluate === undefined) {
      throw TributaryError.of(
        Reason.FAILED_PRECONDITION,
        `the coordinator asked ${site.name} to evaluate round ${task.round} (settings.evaluateEvery), but run() was given no evaluate callback`,
      );
    }
    const result = await raceAbort(ctx.evaluate(task, site), signal);
    return client.submitEvaluation(task, result, { signal });
  }

  #assertOpen(): void {
    if (this.#closed !== undefined) {
      throw TributaryError.of(Reason.FAILED_PRECONDITION, 'the local federation is closed');
    }
  }
}

interface CompiledOptions {
  readonly model: TensorMap;
  readonly federation: string;
  readonly sites: readonly string[];
  readonly settings: FederationSettings;
  readonly siteOptions: Omit<SiteClientOptions, 'coordinator' | 'nats' | 'key'>;
  readonly logLevel: string;
  readonly printLogs: boolean;
  readonly startTimeoutMs: number;
}

function compileOptions(opts: LocalFederationOptions): CompiledOptions {
  if (typeof opts !== 'object' || opts === null) throw invalid(OPTIONS, 'an options object', opts);
  if (typeof opts.model !== 'object' || opts.model === null || Object.keys(opts.model).length === 0) {
    throw invalid(`${OPTIONS}.model`, 'a TensorMap with at least one tensor', opts.model);
  }
  const federation = opts.federation ?? DEFAULT_FEDERATION;
  nameOption(`${OPTIONS}.federation`, 'federation', federation);
  const sites = siteNames(opts.sites ?? DEFAULT_SITES);
  const logLevel = opts.logLevel ?? 'warn';
  if (!LOG_LEVELS.includes(logLevel)) throw invalid(`${OPTIONS}.logLevel`, `one of ${LOG_LEVELS.join(', ')}`, logLevel);
  return {
    model: opts.model,
    federation,
    sites,
    settings: {
      ...opts.settings,
      strategy: opts.strategy ?? opts.settings?.strategy ?? 'fedavg',
      strategyOptions: { ...opts.settings?.strategyOptions, ...opts.strategyOptions },
      rounds: positiveInteger(`${OPTIONS}.rounds`, opts.rounds ?? DEFAULT_ROUNDS),
      // Every site by default: a round then waits for all of them (or fails at its deadline).
      minSites: opts.settings?.minSites ?? sites.length,
      roundDeadlineSeconds: positiveInteger(`${OPTIONS}.roundDeadlineSeconds`, opts.roundDeadlineSeconds ?? DEFAULT_DEADLINE_SECONDS),
    },
    siteOptions: opts.siteOptions ?? {},
    logLevel,
    printLogs: opts.printLogs === true,
    startTimeoutMs: positiveInteger(`${OPTIONS}.startTimeoutMs`, opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS),
  };
}

function siteNames(v: number | readonly string[]): readonly string[] {
  if (typeof v === 'number') {
    positiveInteger(`${OPTIONS}.sites`, v);
    return Array.from({ length: v }, (_, i) => `site-${i + 1}`);
  }
  if (!Array.isArray(v) || v.length === 0) throw invalid(`${OPTIONS}.sites`, 'a positive number of sites or a non-empty array of names', v);
  v.forEach((name: unknown, i) => nameOption(`${OPTIONS}.sites[${i}]`, 'site', name));
  if (new Set(v).size !== v.length) throw invalid(`${OPTIONS}.sites`, 'distinct names', v.join(', '));
  return [...v];
}

function nameOption(path: string, kind: 'federation' | 'site', v: unknown): void {
  if (!isValidName(v)) throw invalid(path, `a ${kind} name matching ${NAME_PATTERN.source}`, v);
}

function positiveInteger(path: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw invalid(path, 'a positive integer', v);
  return v;
}

/** The one message format of option errors: `invalid <path>: expected <what>, got <value>`. */
function invalid(path: string, expected: string, got: unknown): TributaryError {
  const shown = typeof got === 'string' ? JSON.stringify(got) : typeof got === 'object' && got !== null ? 'an object' : String(got);
  return TributaryError.invalidArgument(`invalid ${path}: expected ${expected}, got ${shown}`);
}

function runEnded(): TributaryError {
  return TributaryError.cancelled('the run ended');
}

function adminCall<Req, Res = unknown>(admin: RpcClient, method: string, request: Req): Promise<Res> {
  return admin.unary<Req, Res>(method, request, { timeoutMs: ADMIN_CALL_TIMEOUT_MS });
}

/** The error, with the coordinator's last log lines when it is an internal or transport failure. */
function withLog(err: unknown, dev: DevProcess): unknown {
  const e = TributaryError.from(err);
  const tail = dev.logTail().trim();
  if (tail === '' || (e.code !== 'INTERNAL' && e.code !== 'UNAVAILABLE' && e.code !== 'DEADLINE_EXCEEDED')) return err;
  return TributaryError.of(e.reason, `${e.message}\ncoordinator log:\n${tail}`, { code: e.code, retryable: e.retryable, cause: err });
}

/** How a site's part ended: with the run, as the coordinator reports it. */
function runEndedSummary(run: Run__Output): ParticipationEnd {
  const status = runEndStatusOf(run.status);
  if (status === undefined) return { how: 'stopped' };
  return { how: 'run-ended', run: { federation: run.federation, runId: run.id, status, message: run.failureReason, round: run.currentRound } };
}
