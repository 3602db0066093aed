import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Reason, TributaryError } from '@tributary/proto';
import { NatsAuthority } from '../nats-auth/authority.js';
import { createNatsAuthority } from '../nats-auth/authority-setup.js';
import { operatorModeLines } from '../nats-auth/server-config.js';

/** How to install nats-server, said in one line when it is missing. */
export const NATS_SERVER_INSTALL_HINT =
  'nats-server is not on PATH: install it with `apt-get install nats-server` (Debian/Ubuntu) or `brew install nats-server` (macOS)';

export interface NatsServerOptions {
  /** Directory for JetStream storage; a temp dir (removed on stop) when omitted. */
  storeDir?: string;
  /** Port to listen on; a free loopback port when omitted. */
  port?: number;
  /** Largest message payload in bytes. @default 1048576 */
  maxPayload?: number;
  /** nats-server binary. @default "nats-server" (from PATH) */
  binary?: string;
  /** Milliseconds to wait for the server to accept connections. @default 10000 */
  startTimeoutMs?: number;
  /** Clients must present this token, or this user and password. @default no authentication */
  auth?: { token?: string; user?: string; password?: string };
  /** Clients must connect with TLS (PEM files); `caFile` is the server's `ca_file`. @default plaintext */
  tls?: { certFile: string; keyFile: string; caFile?: string };
  /**
   * Operator mode (decentralised JWT auth): the server trusts the authority in `authorityDir`
   * (written by `tributary nats init`), or a new one in a temp dir; every client needs creds.
   * Not with `auth`. @default off
   */
  operator?: { authorityDir?: string };
}

/** The credentials of a server in operator mode. */
export interface OperatorModeAccess {
  /** The authority directory (a temp one, removed on stop, when none was given). */
  readonly authorityDir: string;
  /** The coordinator's creds file and its content. */
  readonly coordinatorCredsFile: string;
  readonly coordinatorCreds: Uint8Array;
  /** A system-account user's creds file and its content (account updates). */
  readonly systemCredsFile: string;
  readonly systemCreds: Uint8Array;
}

/** A nats-server child process with JetStream on a loopback port. */
export class NatsServer {
  private constructor(
    readonly url: string,
    readonly port: number,
    readonly storeDir: string,
    private readonly child: ChildProcess,
    private readonly ownsStoreDir: boolean,
    private readonly workDir: string,
    /** Present in operator mode. */
    readonly operator: OperatorModeAccess | undefined,
  ) {}

  /** True when a nats-server binary can be started. */
  static available(binary = 'nats-server'): boolean {
    const probe = spawnSync(binary, ['--version'], { stdio: 'ignore' });
    return probe.error === undefined && probe.status === 0;
  }

  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const binary = options.binary ?? 'nats-server';
    if (!NatsServer.available(binary)) {
      throw TributaryError.of(Reason.NATS_SERVER_MISSING, NATS_SERVER_INSTALL_HINT);
    }
    // Checked before anything is created.
    const security = [...authorizationBlock(options.auth), ...tlsBlock(options.tls)];
    if (options.operator !== undefined && options.auth !== undefined) {
      throw TributaryError.invalidArgument('NatsServerOptions.operator and .auth do not go together');
    }
    const workDir = await mkdtemp(join(tmpdir(), 'tributary-nats-'));
    let operator: OperatorModeAccess | undefined;
    if (options.operator !== undefined) {
      const given = options.operator.authorityDir;
      const mode = await operatorMode(given ?? join(workDir, 'authority'), join(workDir, 'jwt'), given === undefined).catch(async (err: unknown) => {
        await rm(workDir, { recursive: true, force: true });
        throw err;
      });
      security.push(...mode.lines);
      operator = mode.access;
    }
    const ownsStoreDir = options.storeDir === undefined;
    const storeDir = options.storeDir ?? join(workDir, 'jetstream');
    const port = options.port ?? (await freePort());
    const config = [
      `host: 127.0.0.1`,
      `port: ${port}`,
      `max_payload: ${options.maxPayload ?? 1048576}`,
      `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
      ...security,
    ].join('\n');
    const configPath = join(workDir, 'nats.conf');
    await writeFile(configPath, config + '\n');
    const child = spawn(binary, ['-c', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const server = new NatsServer(`nats://127.0.0.1:${port}`, port, storeDir, child, ownsStoreDir, workDir, operator);
    try {
      await waitForPort(port, options.startTimeoutMs ?? 10_000, child);
    } catch (err) {
      await server.stop();
      throw TributaryError.of(
        Reason.NATS_SERVER_START_FAILED,
        `nats-server did not start on port ${port}: ${stderr.trim().split('\n').pop() ?? String(err)}`,
        { cause: err },
      );
    }
    return server;
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes temp files it owns. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.workDir, { recursive: true, force: true });
    if (!this.ownsStoreDir) return;
    await rm(this.storeDir, { recursive: true, force: true });
  }
}

/** nats-server 2.9's `authorization {}` block: a token, or a user and password. */
function authorizationBlock(auth: NatsServerOptions['auth']): string[] {
  if (auth === undefined) return [];
  const { token, user, password } = auth;
  if (token !== undefined && (user !== undefined || password !== undefined)) {
    throw TributaryError.invalidArgument('NatsServerOptions.auth takes a token, or a user and password, not both');
  }
  if ((user === undefined) !== (password === undefined)) {
    throw TributaryError.invalidArgument('NatsServerOptions.auth.user and .password go together');
  }
  // JSON strings are valid quoted strings in the nats-server config syntax.
  if (token !== undefined) return [`authorization { token: ${JSON.stringify(token)} }`];
  if (user !== undefined && password !== undefined) {
    return [`authorization { user: ${JSON.stringify(user)}, password: ${JSON.stringify(password)} }`];
  }
  return [];
}

/**
 * The operator-mode lines for `authorityDir` (created first when `create`) and the creds it holds.
 * The resolver directory is the launcher's own; the preload carries the authority's current
 * account JWT, so revocations saved by the authority hold from the first connect.
 */
async function operatorMode(authorityDir: string, resolverDir: string, create: boolean): Promise<{ lines: string[]; access: OperatorModeAccess }> {
  if (create) await createNatsAuthority({ dir: authorityDir });
  const authority = await NatsAuthority.load({ dir: authorityDir });
  const access: OperatorModeAccess = {
    authorityDir: authority.dir,
    coordinatorCredsFile: authority.coordinatorCredsFile,
    coordinatorCreds: await authority.coordinatorCreds(),
    systemCredsFile: authority.systemCredsFile,
    systemCreds: await authority.systemCreds(),
  };
  await authority.close();
  return { lines: operatorModeLines(authority.operatorModeSettings(resolverDir)), access };
}

function tlsBlock(tls: NatsServerOptions['tls']): string[] {
  if (tls === undefined) return [];
  const files = [`cert_file: ${JSON.stringify(tls.certFile)}`, `key_file: ${JSON.stringify(tls.keyFile)}`];
  if (tls.caFile !== undefined) files.push(`ca_file: ${JSON.stringify(tls.caFile)}`);
  return [`tls { ${files.join(', ')} }`];
}

/** A TCP port free on 127.0.0.1 at the time of the call. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once `port` on loopback accepts a connection; fails if `child` exits first or after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = netConnect({ port, host: '127.0.0.1' }, () => {
        sock.destroy();
        resolve(true);
      });
      sock.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('timed out');
}
