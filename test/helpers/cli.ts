import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built `tributary` command. */
export const CLI_MAIN = fileURLToPath(new URL('../../coordinator/dist/cli/main.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The `--json` output of a command: `{"ok":true,"result":...}` or `{"ok":false,"error":...}`. */
export interface CliEnvelope<T = unknown> {
  ok: boolean;
  result?: T;
  error?: { code: string; message: string; hint: string };
}

export interface CliOptions {
  /** Set on top of the test's own environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Leaves out the TRIBUTARY_* settings of the test's own environment. @default false */
  withoutOuterSettings?: boolean;
  /** The command is killed after this long. @default no limit */
  timeoutMs?: number;
}

/** Runs `tributary <args>` as a user would and resolves once it has exited and closed its output. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawnCli(args, opts);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The command's `--json` envelope. */
export function envelopeOf<T = unknown>(r: CliResult): CliEnvelope<T> {
  return JSON.parse(r.stdout) as CliEnvelope<T>;
}

/** A long-running command (`serve`, `dev`) that has printed its first line. */
export interface CliProcess {
  readonly child: ChildProcess;
  /** With `--json`, the start envelope. */
  readonly firstLine: string;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** Interrupts it as Ctrl-C does and waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts `tributary <args>` and resolves once it printed a line; rejects if it exits first. */
export async function startCli(args: string[], opts: Omit<CliOptions, 'timeoutMs'> = {}): Promise<CliProcess> {
  const child = spawnCli(args, opts);
  let output = '';
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const firstLine = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      output += d.toString();
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    child.on('exit', (code) => reject(new Error(`tributary ${args[0] ?? ''} exited with ${code}: ${output}`)));
  });
  return {
    child,
    firstLine,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
    },
  };
}

function spawnCli(args: string[], opts: CliOptions): ChildProcess {
  const outer = opts.withoutOuterSettings
    ? Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRIBUTARY_')))
    : process.env;
  return spawn(process.execPath, [CLI_MAIN, ...args], {
    env: { ...outer, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
  });
}
