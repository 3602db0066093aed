import { setMaxListeners } from 'node:events';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChannelCredentials } from '@grpc/grpc-js';
import {
  Reason,
  RpcClient,
  TributaryError,
  assertName,
  downloadModel,
  generateSigningKey,
  isDType,
  readKeyFile,
  refusalCount,
  waitForRun,
  writeKeyFile,
} from '@tributary/proto';
import type {
  CreateInvitationRequest,
  Federation__Output,
  GetFederationRequest,
  Invitation__Output,
  Round__Output,
  Run__Output,
  RunEvent__Output,
  SigningKey,
  StartRunRequest,
  TensorDeclaration,
  WhoAmIRequest,
  WhoAmIResponse__Output,
} from '@tributary/proto';
import { channelCredentials } from '../options.js';
import type { SiteClientOptions } from '../options.js';
import { SiteClient } from '../site-client.js';
import type { UpdateVerdict } from '../types.js';
import { simulationExample, specMismatch } from './examples.js';

export interface SimulationOptions {
  /** The coordinator's gRPC address, host:port. */
  readonly coordinator: string;
  /** The NATS URL sites publish to. */
  readonly nats: string;
  /** An admin key (or its file): it invites the simulated sites and starts the run. */
  readonly adminKey: SigningKey | string;
  /** The federation to train; its model must be the example's (`tributary model init --spec`). */
  readonly federation: string;
  /** How many sites. */
  readonly sites: number;
  /** A built-in example (`SIMULATION_EXAMPLES`). @default 'quickstart' */
  readonly example?: string;
  /**
   * Where each site keeps its key, in a directory of its own (`<dir>/<site>/site.key`). Sites
   * found there and known to the coordinator are reused; others enroll with an invitation.
   */
  readonly dir: string;
  /** Site names are `<prefix>-1` ... `<prefix>-N`. @default `<federation>-sim` */
  readonly namePrefix?: string;
  /** Rounds of the run. @default the federation's setting */
  readonly rounds?: number;
  /** Seed of the data split. @default 7 */
  readonly seed?: number;
  /** gRPC channel credentials; or give `tls`. @default insecure */
  readonly credentials?: ChannelCredentials;
  /** TLS to the coordinator and to NATS from PEM files (a CA; a client certificate and key for mutual TLS), as SiteClient takes it. */
  readonly tls?: SiteClientOptions['tls'];
  readonly signal?: AbortSignal;
  /** Progress: sites enrolled, the run started, each round's end. */
  readonly onProgress?: (event: SimulationProgress) => void;
}

export type SimulationProgress =
  | { readonly type: 'site-ready'; readonly site: string; readonly enrolled: boolean; readonly rows: number; readonly keyFile: string }
  | { readonly type: 'run-started'; readonly run: Run__Output }
  | { readonly type: 'update'; readonly site: string; readonly round: number; readonly accepted: boolean; readonly reason: string }
  | { readonly type: 'round-ended'; readonly run: Run__Output; readonly round: Round__Output };

export interface SimulatedSite {
  readonly name: string;
  readonly keyFile: string;
  /** Enrolled with an invitation by this simulation (not found from an earlier one). */
  readonly enrolled: boolean;
  readonly rows: number;
  readonly accepted: number;
  readonly refused: number;
}

export interface SimulationResult {
  readonly federation: string;
  readonly example: string;
  readonly run: Run__Output;
  readonly sites: readonly SimulatedSite[];
  /** The example's scores of the run's last model on rows no site trained on. */
  readonly evaluation: Readonly<Record<string, number>>;
}

/** Deadline of each unary admin or site call. */
const CALL_TIMEOUT_MS = 30_000;

/** Most sites one simulation runs in one process. */
export const MAX_SIMULATED_SITES = 24;

/**
 * Runs N real sites of a built-in example in this process against a running coordinator: each
 * has its own key in its own directory, joins with an invitation (or is found from an earlier
 * simulation), gets its own NATS user, trains on its own shard and publishes signed updates. An
 * admin key starts a run; the simulation follows it to its end, then stops the sites.
 */
export async function simulate(options: SimulationOptions): Promise<SimulationResult> {
  const federation = assertName('federation', options.federation);
  const example = simulationExample(options.example ?? 'quickstart');
  const max = Math.min(example.maxSites, MAX_SIMULATED_SITES);
  if (!Number.isSafeInteger(options.sites) || options.sites < 1 || options.sites > max) {
    throw TributaryError.invalidArgument(`--sites must be a whole number from 1 to ${max} for the ${example.name} example, got ${options.sites}`);
  }
  const prefix = options.namePrefix ?? `${federation.slice(0, 50)}-sim`;
  const names = Array.from({ length: options.sites }, (_, i) => assertName('site', `${prefix}-${i + 1}`));
  const adminKey = typeof options.adminKey === 'string' ? await readKeyFile(options.adminKey) : options.adminKey;
  const channel = channelCredentials(options.credentials, options.tls);
  const credentials = channel === undefined ? {} : { credentials: channel };
  const natsTls = options.tls === undefined ? {} : { natsAuth: { tls: options.tls } };
  const admin = new RpcClient({ address: options.coordinator, key: adminKey, service: 'AdminService', ...credentials });
  const signal = options.signal ?? new AbortController().signal;
  const stopSites = new AbortController();
  // Every site's calls listen on these: a few dozen listeners are expected, not a leak.
  setMaxListeners(16 * (options.sites + 2), signal, stopSites.signal);
  const clients: SiteClient[] = [];
  try {
    const fed = await admin.unary<GetFederationRequest, Federation__Output>('GetFederation', { name: federation }, { signal, timeoutMs: CALL_TIMEOUT_MS });
    const mismatch = specMismatch(example, declarationsOf(fed));
    if (mismatch !== undefined) {
      throw TributaryError.of(Reason.SCHEMA_MISMATCH, mismatch, {
        details: { hint: `Create a federation for it: tributary model init --spec "${example.modelSpec}" --out init.safetensors, then tributary federation create <name> --initial-model init.safetensors` },
      });
    }
    const shards = example.prepare(names, options.seed ?? 7);
    const counts = new Map(names.map((n) => [n, { accepted: 0, refused: 0 }]));
    const countOf = (site: string): { accepted: number; refused: number } => counts.get(site) ?? { accepted: 0, refused: 0 };
    const sites: Array<Omit<SimulatedSite, 'accepted' | 'refused'>> = [];
    for (const name of names) {
      const site = await readySite({ admin, name, federation, dir: options.dir, coordinator: options.coordinator, signal, ...credentials });
      sites.push({ ...site, rows: shards.rows(name) });
      options.onProgress?.({ type: 'site-ready', site: name, enrolled: site.enrolled, rows: shards.rows(name), keyFile: site.keyFile });
    }
    for (const site of sites) {
      clients.push(await SiteClient.connect({ coordinator: options.coordinator, nats: options.nats, key: site.keyFile, ...credentials, ...natsTls }));
    }
    // A site that fails for good ends the simulation at once, not at the round's deadline.
    const failed = new AbortController();
    const participating = clients.map((client) =>
      client
        .participate(federation, shards.train(client.site), {
          signal: stopSites.signal,
          onVerdict: (v: UpdateVerdict) => options.onProgress?.({ type: 'update', site: client.site, round: v.round, accepted: v.accepted, reason: v.reason }),
        })
        .catch((err: unknown) => failed.abort(err)),
    );
    const request: StartRunRequest = { federation, rounds: options.rounds ?? 0 };
    const started = await admin.unary<StartRunRequest, Run__Output>('StartRun', request, { signal, timeoutMs: CALL_TIMEOUT_MS });
    options.onProgress?.({ type: 'run-started', run: started });
    const watching = AbortSignal.any([signal, failed.signal]);
    setMaxListeners(16 * (options.sites + 2), watching, failed.signal);
    let current: Run__Output = started;
    let run: Run__Output;
    try {
      run = await waitForRun(admin, started.id, {
        signal: watching,
        onEvent: (event: RunEvent__Output) => {
          if (event.run !== null) current = event.run;
          if ((event.type === 'ROUND_COMMITTED' || event.type === 'ROUND_FAILED') && event.round !== null) {
            // Counted from the coordinator's record of the round: a verdict may reach its site later.
            for (const u of event.round.accepted) countOf(u.site).accepted += 1;
            for (const r of event.round.refused) countOf(r.site).refused += refusalCount(r);
            options.onProgress?.({ type: 'round-ended', run: current, round: event.round });
          }
        },
      });
    } catch (err) {
      if (failed.signal.aborted && !signal.aborted) throw TributaryError.from(failed.signal.reason);
      throw err;
    }
    stopSites.abort();
    await Promise.all(participating);
    const evaluation = run.latestVersion > run.startVersion ? shards.evaluate((await downloadModel(admin, { federation, version: run.latestVersion }, { signal })).bytes) : {};
    return {
      federation,
      example: example.name,
      run,
      sites: sites.map((s) => ({ ...s, ...(counts.get(s.name) ?? { accepted: 0, refused: 0 }) })),
      evaluation,
    };
  } finally {
    stopSites.abort();
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    admin.close();
  }
}

/** A site's key in its own directory, known to the coordinator as a member of the federation. */
async function readySite(o: {
  admin: RpcClient;
  name: string;
  federation: string;
  dir: string;
  coordinator: string;
  signal: AbortSignal;
  credentials?: ChannelCredentials;
}): Promise<{ name: string; keyFile: string; enrolled: boolean }> {
  const siteDir = join(o.dir, o.name);
  const keyFile = join(siteDir, 'site.key');
  await mkdir(siteDir, { recursive: true, mode: 0o700 });
  const hasKey = await access(keyFile).then(
    () => true,
    () => false,
  );
  // The site makes its own key; only its public half ever leaves the directory.
  if (!hasKey) await writeKeyFile(keyFile, generateSigningKey(o.name));
  const key = await readKeyFile(keyFile);
  const known = await siteOf(key, o);
  if (known !== undefined) {
    if (known.name !== o.name || !known.federations.includes(o.federation)) {
      throw TributaryError.of(Reason.FAILED_PRECONDITION, `the key in ${keyFile} belongs to site ${known.name}, which is not a member of ${o.federation}`, {
        details: { hint: 'Choose another --dir or --name-prefix for this federation.' },
      });
    }
    return { name: o.name, keyFile, enrolled: false };
  }
  const invitation: CreateInvitationRequest = { federations: [o.federation], siteName: o.name, ttlSeconds: 600 };
  const { token } = await o.admin.unary<CreateInvitationRequest, Invitation__Output>('CreateInvitation', invitation, { signal: o.signal, timeoutMs: CALL_TIMEOUT_MS });
  try {
    await SiteClient.enroll({ coordinator: o.coordinator, key, invitationToken: token, ...(o.credentials === undefined ? {} : { credentials: o.credentials }) });
  } catch (err) {
    const e = TributaryError.from(err);
    if (e.code !== 'ALREADY_EXISTS') throw e;
    throw TributaryError.of(e.reason, `site ${o.name} already exists with another key than ${keyFile}`, {
      cause: err,
      details: { hint: 'Pass the --dir of the simulation that made it, or another --name-prefix.' },
    });
  }
  return { name: o.name, keyFile, enrolled: true };
}

/** The site this key belongs to, or undefined when the coordinator does not know the key. */
async function siteOf(key: SigningKey, o: { coordinator: string; signal: AbortSignal; credentials?: ChannelCredentials }) {
  const rpc = new RpcClient({ address: o.coordinator, key, service: 'SiteService', ...(o.credentials === undefined ? {} : { credentials: o.credentials }) });
  try {
    const who = await rpc.unary<WhoAmIRequest, WhoAmIResponse__Output>('WhoAmI', {}, { signal: o.signal, timeoutMs: CALL_TIMEOUT_MS });
    return who.role === 'site' && who.site !== null ? who.site : undefined;
  } catch (err) {
    // Callers learn only AUTH_FAILED for an unknown key.
    if (TributaryError.from(err).reason === Reason.AUTH_FAILED) return undefined;
    throw err;
  } finally {
    rpc.close();
  }
}

function declarationsOf(fed: Federation__Output): TensorDeclaration[] {
  return (fed.modelSpec?.tensors ?? []).map((t) => ({ name: t.name, dtype: isDType(t.dtype) ? t.dtype : 'F32', shape: t.shape.map(Number) }));
}
