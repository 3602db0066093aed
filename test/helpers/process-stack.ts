import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdminClient, NatsServer, type CoordinatorOptions } from '@tributary/coordinator';
import { generateSigningKey, STREAM_UPDATES, type SigningKey } from '@tributary/proto';
import { connect } from 'nats';
import { UPDATE_CONSUMER } from '../../coordinator/src/ingest/streams.js';
import { freePort } from '../../coordinator/src/dev/nats-server.js';
import { RawSite, type RawUpload } from './raw-site.js';
import type { UpdateStatus__Output } from '@tributary/proto';
import { eventually } from './stack.js';

const COORDINATOR_PROCESS = fileURLToPath(new URL('./coordinator-process.mjs', import.meta.url));

/** Options of the coordinator child: what JSON can carry (no logger, no authenticator). */
export type ChildCoordinatorOptions = Partial<Omit<CoordinatorOptions, 'dataDir' | 'nats' | 'adminKeys' | 'logger' | 'natsOptions' | 'grpcListen' | 'metricsPort'>>;

/**
 * A real nats-server and a coordinator in a child process on the same data directory across
 * restarts, so a test can kill -9 the coordinator, restart nats-server, and watch the process
 * survive or die. NATS runs without authentication: the walls are other suites' business.
 */
export interface ProcessStack {
  readonly dataDir: string;
  readonly adminKey: SigningKey;
  nats: NatsServer;
  admin: AdminClient;
  /** The coordinator's gRPC address, host:port (the same across restarts). */
  readonly address: string;
  /** The running coordinator's public key (verdicts are signed with it; it survives restarts). */
  coordinatorKey: Uint8Array;
  /** The running coordinator child. */
  child: ChildProcess;
  /** Exit code (or signal) of the child once it exited, undefined while it runs. */
  exitOf(): number | string | undefined;
  /** A RawSite on the current nats-server. */
  rawSite(): Promise<RawSite>;
  /** Manifests the coordinator holds: delivered on TRIB_UPDATES and not yet acknowledged. */
  heldManifests(): Promise<number>;
  /** The coordinator's Prometheus text. */
  metricsText(): Promise<string>;
  /** The coordinator's /healthz answer: HTTP status and JSON body (with the parts' details, e.g. `tracking`). */
  healthz(): Promise<{ status: number; body: HealthzBody }>;
  /** SIGTERM, as a service manager stops it; resolves with the exit code (or signal). */
  terminateCoordinator(): Promise<number | string>;
  /** SIGKILL: the coordinator gets no chance to finish anything. */
  killCoordinator(): Promise<void>;
  /** Starts a coordinator child on the same data directory, NATS and ports. */
  startCoordinator(): Promise<void>;
  /**
   * Stops nats-server (SIGTERM) and starts it again on the same port, with its storage or, with
   * `wipe`, without it; `whileDown` runs (and is awaited) between the two.
   */
  restartNats(opts?: { wipe?: boolean; whileDown?: () => Promise<void> }): Promise<void>;
  stop(): Promise<void>;
}

/** What /healthz answers. */
export interface HealthzBody {
  status: string;
  reason?: string;
  message?: string;
  /** The tracking outbox: writes waiting for the store, and those it refused. */
  tracking?: { outboxDepth: number; oldestWaitingSeconds: number; refusedWrites: number; lastError?: string };
}

export async function startProcessStack(overrides: ChildCoordinatorOptions = {}): Promise<ProcessStack> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-proc-'));
  const storeDir = join(dir, 'nats');
  const nats = await NatsServer.start({ storeDir });
  const adminKey = generateSigningKey('admin');
  const grpcPort = await freePort();
  const metricsPort = await freePort();
  const options = {
    ...overrides,
    dataDir: join(dir, 'data'),
    grpcListen: `127.0.0.1:${grpcPort}`,
    metricsPort,
    nats: nats.url,
    adminKeys: [Buffer.from(adminKey.publicKey).toString('base64')],
  };
  let exit: number | string | undefined;
  const stack: ProcessStack = {
    dataDir: options.dataDir,
    address: options.grpcListen,
    adminKey,
    nats,
    admin: undefined as unknown as AdminClient,
    coordinatorKey: new Uint8Array(),
    child: undefined as unknown as ChildProcess,
    exitOf: () => exit,
    rawSite: () => RawSite.connect(stack.nats.url, stack.coordinatorKey),
    async heldManifests() {
      const nc = await connect({ servers: [stack.nats.url] });
      try {
        return (await (await nc.jetstreamManager()).consumers.info(STREAM_UPDATES, UPDATE_CONSUMER)).num_ack_pending;
      } finally {
        await nc.close();
      }
    },
    async metricsText() {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      return res.text();
    },
    async healthz() {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
      return { status: res.status, body: (await res.json()) as HealthzBody };
    },
    async terminateCoordinator() {
      stack.admin.close();
      const child = stack.child;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        await exited;
      }
      return exit ?? 'unknown';
    },
    async killCoordinator() {
      stack.admin.close();
      const child = stack.child;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    },
    async startCoordinator() {
      exit = undefined;
      const child = spawn(process.execPath, [COORDINATOR_PROCESS], {
        env: { ...process.env, TRIBUTARY_COORDINATOR_OPTIONS: JSON.stringify(options) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      child.once('exit', (code, signal) => {
        exit = code ?? signal ?? 'unknown';
      });
      const line = await firstLine(child);
      const started = JSON.parse(line) as { address: string; publicKey: string };
      stack.child = child;
      stack.coordinatorKey = Buffer.from(started.publicKey, 'base64');
      stack.admin = new AdminClient({ address: started.address, key: adminKey });
    },
    async restartNats(opts = {}) {
      await stack.nats.stop();
      await opts.whileDown?.();
      if (opts.wipe === true) await rm(storeDir, { recursive: true, force: true });
      stack.nats = await NatsServer.start({ storeDir, port: stack.nats.port });
    },
    async stop() {
      stack.admin?.close();
      const child = stack.child;
      if (child !== undefined && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await stack.nats.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await stack.startCoordinator();
  return stack;
}

/** Generates keys for `names` and adds them as sites of `federation`. */
export async function addSites(stack: Pick<ProcessStack, 'admin'>, federation: string, names: string[]): Promise<Record<string, SigningKey>> {
  const keys: Record<string, SigningKey> = {};
  for (const name of names) {
    const key = generateSigningKey(name);
    await stack.admin.addSite({ name, publicKey: key.publicKey, federations: [federation] });
    keys[name] = key;
  }
  return keys;
}

/** The child's first line on stdout; rejects if it exits before printing one. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (d: Buffer): void => {
      buffered += d.toString();
      const end = buffered.indexOf('\n');
      if (end < 0) return;
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      resolve(buffered.slice(0, end));
    };
    const onExit = (code: number | null): void => reject(new Error(`coordinator process exited with code ${code} before it listened`));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** The value of a counter or gauge with these labels in Prometheus text, 0 when absent. */
export function metricValue(text: string, name: string, labels = ''): number {
  const escaped = `${name}${labels === '' ? '' : `{${labels}}`}`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`^${escaped} ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * Sends the first half of `upload`'s chunks and its manifest, waits until the coordinator holds the
 * manifest (it is reading the payload), runs `interrupt` (a crash, a restart), then sends the rest
 * on a new connection and resolves with the update's verdict. `after` runs on that connection
 * before it closes.
 */
export async function interruptedUpload(
  stack: ProcessStack,
  upload: RawUpload,
  to: { federation: string; site: string; verdictMs: number },
  interrupt: () => Promise<unknown>,
  after?: (raw: RawSite) => Promise<void>,
): Promise<UpdateStatus__Output> {
  const half = Math.floor(upload.chunks.length / 2);
  const send = async (raw: RawSite, chunks: RawUpload['chunks']) => {
    for (const c of chunks) await raw.nc.jetstream().publish(c.subject, c.data, { msgID: c.msgID, headers: c.headers });
  };
  const first = await stack.rawSite();
  try {
    await send(first, upload.chunks.slice(0, half));
    await first.nc.jetstream().publish(upload.manifest.subject, upload.manifest.bytes, { msgID: upload.updateId });
    await eventually(async () => ((await stack.heldManifests()) === 1 ? true : undefined));
  } finally {
    await first.close();
  }
  await interrupt();
  const raw = await stack.rawSite();
  try {
    const verdict = raw.verdict(to.federation, to.site, upload.updateId, to.verdictMs);
    await send(raw, upload.chunks.slice(half));
    const status = await verdict;
    await after?.(raw);
    return status;
  } finally {
    await raw.close();
  }
}
