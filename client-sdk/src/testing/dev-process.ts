import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { dirname, resolve } from 'node:path';
import { Reason, TributaryError, isReasonCode } from '@tributary/proto';

/** What `tributary dev --json` prints first: where its coordinator, NATS and admin key are. */
export interface DevEnvironment {
  /** The coordinator's gRPC address, host:port. */
  readonly coordinator: string;
  /** The nats-server URL. */
  readonly nats: string;
  /** The admin key file (mode 0600) the coordinator was bootstrapped with. */
  readonly keyFile: string;
}

export interface DevProcessOptions {
  /** `--log-level` of the coordinator. */
  readonly logLevel: string;
  /** Copies the coordinator's log (stderr) to this process's stderr. */
  readonly printLogs: boolean;
  /** How long to wait for the first line. */
  readonly startTimeoutMs: number;
}

const COORDINATOR_PACKAGE = '@tributary/coordinator';
const INSTALL_HINT = `install it next to the SDK: npm install --save-dev ${COORDINATOR_PACKAGE}`;
/** Bytes of the coordinator's log kept for error messages. */
const LOG_TAIL_BYTES = 8 * 1024;
/** How long `stop` waits after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 10_000;

/**
 * `tributary dev` of `@tributary/coordinator` as a child process: a nats-server and a coordinator
 * on free loopback ports with a fresh admin key, in a temp dir removed when it stops. The SDK
 * never imports the coordinator's code; it runs its published command.
 */
export class DevProcess {
  private constructor(
    readonly env: DevEnvironment,
    private readonly child: ChildProcess,
    private readonly log: { tail: string },
  ) {}

  static async start(opts: DevProcessOptions): Promise<DevProcess> {
    const bin = coordinatorBin();
    // --stop-on-stdin-close: if this process dies without stopping it, the child stops too.
    const args = [bin, 'dev', '--json', '--grpc-listen', '127.0.0.1:0', '--stop-on-stdin-close', '--log-level', opts.logLevel];
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const log = { tail: '' };
    child.stderr?.on('data', (d: Buffer) => {
      if (opts.printLogs) process.stderr.write(d);
      log.tail = (log.tail + d.toString()).slice(-LOG_TAIL_BYTES);
    });
    try {
      const env = environmentOf(await firstLine(child, opts.startTimeoutMs));
      // Nothing more comes on stdout; a forgotten close() must not keep this process alive
      // (the child then stops when its stdin closes at exit).
      child.stdout?.resume();
      child.unref();
      // With stdio 'pipe', the child's streams are sockets.
      for (const pipe of [child.stdin, child.stdout, child.stderr]) (pipe as unknown as Socket | null)?.unref();
      return new DevProcess(env, child, log);
    } catch (err) {
      await stopChild(child);
      const tail = log.tail.trim();
      const e = TributaryError.from(err);
      throw TributaryError.of(e.reason, tail === '' || e.message.includes(tail) ? e.message : `${e.message}\n${tail}`, { code: e.code, cause: err });
    }
  }

  /** The last lines the coordinator logged (stderr), for error messages. */
  logTail(): string {
    return this.log.tail;
  }

  /** Stops the coordinator and nats-server (SIGTERM, then SIGKILL) and waits for the exit. */
  stop(): Promise<void> {
    return stopChild(this.child);
  }
}

/** The `tributary` script of the installed `@tributary/coordinator`. */
function coordinatorBin(): string {
  const require = createRequire(import.meta.url);
  let packageJson: string;
  try {
    packageJson = require.resolve(`${COORDINATOR_PACKAGE}/package.json`);
  } catch (err) {
    throw TributaryError.of(
      Reason.FAILED_PRECONDITION,
      `@tributary/client-sdk/testing runs a local coordinator from ${COORDINATOR_PACKAGE}, which is not installed: ${INSTALL_HINT}`,
      { cause: err },
    );
  }
  const pkg = JSON.parse(readFileSync(packageJson, 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.['tributary'];
  if (bin === undefined) {
    throw TributaryError.of(Reason.FAILED_PRECONDITION, `${packageJson} declares no "tributary" command; ${INSTALL_HINT}`);
  }
  return resolve(dirname(packageJson), bin);
}

/** Resolves with the first line the child prints; rejects if it exits or stays silent first. */
function firstLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise<string>((resolveLine, reject) => {
    let out = '';
    const done = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    const onData = (d: Buffer): void => {
      out += d.toString();
      const end = out.indexOf('\n');
      if (end < 0) return;
      done();
      resolveLine(out.slice(0, end));
    };
    const onExit = (code: number | null): void => {
      done();
      // A failure prints its --json envelope and exits: report that.
      if (out.trim() !== '') resolveLine(out.trim());
      else reject(unavailable(`tributary dev exited with code ${String(code)} before it was ready`));
    };
    const onError = (err: Error): void => {
      done();
      reject(unavailable(`tributary dev could not be started: ${err.message}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(unavailable(`tributary dev was not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/** The environment in the `{"ok":true,"result":...}` envelope, or its `{"ok":false,"error":...}` as a TributaryError. */
function environmentOf(line: string): DevEnvironment {
  let envelope: { ok?: unknown; result?: Record<string, unknown>; error?: { code?: unknown; message?: unknown; hint?: unknown } };
  try {
    envelope = JSON.parse(line) as typeof envelope;
  } catch {
    throw unavailable(`tributary dev printed "${line.slice(0, 200)}" instead of its JSON envelope`);
  }
  if (envelope.ok !== true) {
    const error = envelope.error ?? {};
    const hint = typeof error.hint === 'string' && error.hint !== '' ? ` (${error.hint})` : '';
    throw TributaryError.of(isReasonCode(error.code) ? error.code : Reason.FAILED_PRECONDITION, `tributary dev failed: ${String(error.message)}${hint}`, {
      code: 'FAILED_PRECONDITION',
    });
  }
  const result = envelope.result ?? {};
  const { coordinator, nats, keyFile } = result;
  if (typeof coordinator !== 'string' || typeof nats !== 'string' || typeof keyFile !== 'string') {
    throw unavailable(`tributary dev did not say where its coordinator, NATS and admin key are: ${line.slice(0, 200)}`);
  }
  return { coordinator, nats, keyFile };
}

function unavailable(message: string): TributaryError {
  return TributaryError.of(Reason.UNAVAILABLE, message, { retryable: false });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // Waiting for the exit must keep this process alive.
  child.ref();
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
  child.stdin?.destroy();
}
