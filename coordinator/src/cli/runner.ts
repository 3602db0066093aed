import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { logVerbosity, setLogVerbosity } from '@grpc/grpc-js';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { CommanderError } from 'commander';
import { readKeyFile, tlsChannelCredentials, TributaryError } from '@tributary/proto';
import type { SigningKey } from '@tributary/proto';
import { AdminClient } from '../admin-client.js';
import { loadClientConfig } from '../config/client-config.js';
import type { ClientConfig } from '../config/client-config.js';
import type { TlsFiles } from '../config/tls-files.js';
import { invalidValue, parseDuration, parseLogLevel } from '../config/values.js';
import type { LogLevel } from '../config/values.js';
import { Running } from './command.js';
import type { CliCommand, CommandContext, RawInput } from './command.js';
import { describeFailure, EXIT_INTERRUPTED, EXIT_USAGE, UsageError, withHint } from './errors.js';
import type { CliFailure } from './errors.js';
import { optString } from './input.js';
import { buildProgram, commandPathOf } from './program.js';
import type { Selection } from './program.js';
import { silentProgress, streamProgress } from './progress.js';
import type { Progress } from './progress.js';

/** Deadline of each unary call unless `--timeout` / TRIBUTARY_TIMEOUT say otherwise. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

/** The process around the CLI; tests may pass their own. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { readonly isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Source of SIGINT / SIGTERM. @default process */
  readonly signals?: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
  /** Where a confirmation is read from; none (or not a terminal) means nobody can be asked. */
  readonly stdin?: NodeJS.ReadableStream & { readonly isTTY?: boolean };
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), stdin: process.stdin };
}

/**
 * Parses argv, runs the selected command and prints its result (or one JSON envelope with
 * `--json`). Returns the exit code: 0 success, 1 failure, 2 usage error, 130 interrupted.
 */
export async function runCli(
  argv: readonly string[],
  commands: readonly CliCommand<unknown, unknown>[],
  io: CliIo = processIo(),
): Promise<number> {
  const json = argv.includes('--json');
  const debug = debugRequested(argv);
  // grpc-js writes its own error lines to stderr; the CLI reports errors itself.
  if (!debug && io.env['GRPC_VERBOSITY'] === undefined) setLogVerbosity(logVerbosity.NONE);
  const output = new Output(io, json, debug);
  let selection: Selection | undefined;
  const program = buildProgram({
    commands,
    version: packageVersion(),
    writeOut: (text) => io.stdout.write(text),
    writeErr: (text) => {
      if (!json) io.stderr.write(text);
    },
    onSelect: (s) => {
      selection = s;
    },
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    const path = commandPathOf(program, argv);
    if (!(err instanceof CommanderError)) return output.failure(err, { command: path, usage: true });
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
    if (err.code === 'commander.help') {
      // Commander printed the help of a command group called without a command.
      if (!json) return EXIT_USAGE;
      const message = path.length === 0 ? 'missing command' : `missing command after "tributary ${path.join(' ')}"`;
      return output.failure(new UsageError(message), { command: path, usage: true });
    }
    return output.failure(new UsageError(err.message.replace(/^error: /, '')), { command: path, usage: true });
  }
  if (selection === undefined) return 0;
  if (selection.alias !== undefined && !json) {
    io.stderr.write(
      `Note: "tributary ${selection.alias.join(' ')}" is now "tributary ${selection.command.path.join(' ')}"; the old spelling goes in the next release.\n`,
    );
  }
  return execute(selection, io, output);
}

async function execute(selection: Selection, io: CliIo, output: Output): Promise<number> {
  const { command, raw } = selection;
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts += 1;
    // A second Ctrl-C does not wait for a clean stop.
    if (interrupts > 1) process.exit(EXIT_INTERRUPTED);
    controller.abort();
  };
  const signals = io.signals ?? process;
  signals.on('SIGINT', onSignal);
  signals.on('SIGTERM', onSignal);
  const tty = io.stdout.isTTY === true;
  const quiet = raw.opts['quiet'] === true;
  const progress = output.json ? silentProgress : streamProgress(io.stdout, tty);
  const ctx = new RunnerContext(raw, io, output.json, controller.signal, progress);
  const failureContext = () => ({ command: command.path, usage: false, ...ctx.addressing(command.connects === true) });
  try {
    let input: unknown;
    try {
      input = command.parse(raw);
      if (command.connects === true) {
        ctx.clientConfig();
        ctx.callTimeoutMs();
      }
    } catch (err) {
      return output.failure(err, { ...failureContext(), usage: true });
    }
    const pending = command.run(input, ctx);
    const outcome = command.handlesInterrupt === true ? await pending : await cancelOnAbort(pending, controller.signal);
    progress.done();
    if (outcome instanceof Running) {
      output.result(command, outcome.result, tty, quiet);
      await outcome.untilStopped();
      return 0;
    }
    const failure = command.failure?.(outcome);
    if (failure !== undefined && output.json) return output.failure(failure, failureContext(), outcome);
    output.result(command, outcome, tty, quiet);
    return command.exitCode?.(outcome) ?? (failure === undefined ? 0 : 1);
  } catch (err) {
    progress.done();
    return output.failure(err, failureContext());
  } finally {
    ctx.close();
    signals.off('SIGINT', onSignal);
    signals.off('SIGTERM', onSignal);
  }
}

class RunnerContext implements CommandContext {
  readonly logLevel: LogLevel | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  private config: ClientConfig | undefined;
  private timeoutMs: number | undefined;
  private client: Promise<AdminClient> | undefined;
  readonly interactive: boolean;

  constructor(
    private readonly raw: RawInput,
    private readonly io: CliIo,
    readonly json: boolean,
    readonly signal: AbortSignal,
    readonly progress: Progress,
  ) {
    const level = optString(raw, 'logLevel');
    this.logLevel = level === undefined ? undefined : parseLogLevel(level, '--log-level');
    this.env = io.env;
    this.cwd = io.cwd;
    this.interactive = !json && io.stdin?.isTTY === true;
  }

  async confirm(question: string): Promise<boolean> {
    const { stdin } = this.io;
    if (!this.interactive || stdin === undefined) return false;
    const prompt = createInterface({ input: stdin, output: this.io.stderr, terminal: false });
    try {
      const answer = await new Promise<string>((resolve) => {
        prompt.question(`${question} [y/N] `, resolve);
        prompt.once('close', () => resolve(''));
        this.signal.addEventListener('abort', () => prompt.close(), { once: true });
      });
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      prompt.close();
    }
  }

  clientConfig(): ClientConfig {
    this.config ??= loadClientConfig({
      flags: {
        coordinator: optString(this.raw, 'coordinator'),
        key: optString(this.raw, 'key'),
        tlsCa: optString(this.raw, 'tlsCa'),
        tlsCert: optString(this.raw, 'tlsCert'),
        tlsKey: optString(this.raw, 'tlsKey'),
      },
      env: this.env,
      cwd: this.cwd,
    });
    return this.config;
  }

  /** `--timeout` > TRIBUTARY_TIMEOUT > 30 s: the deadline of each unary call. */
  callTimeoutMs(): number {
    if (this.timeoutMs === undefined) {
      const flag = optString(this.raw, 'timeout');
      const env = this.env['TRIBUTARY_TIMEOUT'];
      const ms = flag !== undefined ? parseDuration(flag, '--timeout') : env !== undefined ? parseDuration(env, { name: 'timeout', from: 'TRIBUTARY_TIMEOUT' }) : DEFAULT_CALL_TIMEOUT_MS;
      if (ms < 1) throw invalidValue('--timeout', flag ?? env, 'must be more than 0, e.g. 30s');
      this.timeoutMs = ms;
    }
    return this.timeoutMs;
  }

  admin(): Promise<AdminClient> {
    this.client ??= (async () => {
      const config = this.clientConfig();
      const callTimeoutMs = this.callTimeoutMs();
      const key = await loadSigningKey(config.keyFile);
      const credentials = config.tls === undefined ? undefined : await tlsCredentials(config.tls);
      return new AdminClient({ address: config.coordinator, key, callTimeoutMs, ...(credentials === undefined ? {} : { credentials }) });
    })();
    return this.client;
  }

  /** Coordinator address, key file and whether TLS is on, for hints, when known. */
  addressing(connects: boolean): { coordinator?: string; keyFile?: string; tls?: boolean; timeoutMs?: number } {
    if (!connects) return {};
    try {
      const config = this.clientConfig();
      return { coordinator: config.coordinator, keyFile: config.keyFile, tls: config.tls !== undefined, timeoutMs: this.callTimeoutMs() };
    } catch {
      return {};
    }
  }

  close(): void {
    void this.client?.then((c) => c.close(), () => undefined);
  }
}

async function loadSigningKey(path: string): Promise<SigningKey> {
  try {
    return await readKeyFile(path);
  } catch (err) {
    if (TributaryError.from(err).code !== 'NOT_FOUND') throw err;
    throw withHint(err, 'Create an admin key with `tributary keygen admin`, or choose a key with --key / TRIBUTARY_KEY.');
  }
}

/** gRPC channel credentials from TLS files (already checked readable by the config loader). */
async function tlsCredentials(tls: TlsFiles): Promise<ChannelCredentials> {
  const read = (path: string | undefined): Promise<Buffer | null> => (path === undefined ? Promise.resolve(null) : readFile(path));
  const [ca, key, cert] = await Promise.all([read(tls.caFile), read(tls.keyFile), read(tls.certFile)]);
  return tlsChannelCredentials({ ca, key, cert });
}

/** Prints results and failures: human text, or exactly one JSON envelope on stdout. */
class Output {
  constructor(
    private readonly io: CliIo,
    readonly json: boolean,
    private readonly debug: boolean,
  ) {}

  result(command: CliCommand<unknown, unknown>, result: unknown, tty: boolean, quiet: boolean): void {
    if (this.json) {
      this.io.stdout.write(`${JSON.stringify({ ok: true, result: result ?? null }, jsonReplacer)}\n`);
      return;
    }
    const text = quiet && command.quiet !== undefined ? command.quiet(result) : command.render(result, { tty });
    if (text !== '') this.io.stdout.write(`${text}\n`);
  }

  failure(err: unknown, ctx: Parameters<typeof describeFailure>[1], result?: unknown): number {
    const f: CliFailure = describeFailure(err, ctx);
    if (this.json) {
      const error = { code: f.code, message: f.message, hint: f.hint };
      this.io.stdout.write(`${JSON.stringify(result === undefined ? { ok: false, error } : { ok: false, error, result }, jsonReplacer)}\n`);
    } else if (f.status === 'CANCELLED') {
      // Stopping on Ctrl-C is what was asked for: said plainly, not as an error.
      this.io.stderr.write(`${f.message}\n${f.hint === '' ? '' : `${f.hint}\n`}`);
    } else {
      this.io.stderr.write(`Error (${f.code}): ${f.message}\n${f.hint === '' ? '' : `Hint: ${f.hint}\n`}`);
    }
    if (this.debug) this.io.stderr.write(`${stackOf(err)}\n`);
    return f.exitCode;
  }
}

function cancelOnAbort<T>(pending: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(TributaryError.cancelled('interrupted'));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Bytes as base64 (site public keys), bigints as strings. */
function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  if (original instanceof Uint8Array) return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64');
  if (typeof value === 'bigint') return value.toString();
  return value;
}

function stackOf(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    parts.push(current instanceof Error ? (current.stack ?? current.message) : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join('\nCaused by: ');
}

function debugRequested(argv: readonly string[]): boolean {
  const i = argv.indexOf('--log-level');
  const level = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--log-level='))?.slice('--log-level='.length);
  return level === 'debug' || level === 'trace';
}

function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const version = (pkg as { version?: unknown }).version;
    return typeof version === 'string' ? version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}
