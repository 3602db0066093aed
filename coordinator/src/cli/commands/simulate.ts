import { spawn } from 'node:child_process';
import { isReasonCode, Reason, TributaryError } from '@tributary/proto';
import type { ClientConfig } from '../../config/client-config.js';
import { defineCommand } from '../command.js';
import type { CommandContext } from '../command.js';
import { UsageError } from '../errors.js';
import { nameArg, optString } from '../input.js';
import { CLI_INSTALL_DIR, locateSiteAgent, SITE_AGENT_BIN } from '../site-agent.js';
import type { SiteAgentProgram } from '../site-agent.js';

export interface SimulateInput {
  readonly federation: string;
  /** `tributary-site simulate`'s own options, as given (it checks them). */
  readonly passed: readonly string[];
  readonly nats: string | undefined;
}

export interface SimulateResult {
  /** The exit code of `tributary-site simulate`: 0 when its run finished. */
  readonly exitCode: number;
  /** With `--json`, the simulation as it reported it: `run`, `sites`, `evaluation`. */
  readonly simulation?: unknown;
}

/** Options handed on to `tributary-site simulate` unchanged: [commander key, flag]. */
const PASSED_OPTIONS = [
  ['sites', '--sites'],
  ['example', '--example'],
  ['rounds', '--rounds'],
  ['seed', '--seed'],
  ['dir', '--dir'],
  ['namePrefix', '--name-prefix'],
] as const;

export default defineCommand({
  path: ['simulate'],
  summary: 'Run N simulated sites of a built-in example against the coordinator, and one run of a federation',
  args: [['<federation>', "the federation to train (its model must be the example's)"]],
  connects: true,
  handlesInterrupt: true,
  options(cmd) {
    cmd.requiredOption('--sites <n>', 'how many sites, each with its own key and data shard');
    cmd.option('--example <name>', 'the built-in example (default: quickstart)');
    cmd.option('--rounds <n>', "rounds of the run (default: the federation's setting)");
    cmd.option('--seed <n>', 'seed of the data split (default 7)');
    cmd.option('--dir <dir>', 'where each site keeps its key (default: <tmp>/tributary-simulate/<federation>)');
    cmd.option('--name-prefix <prefix>', 'site names are <prefix>-1 ... <prefix>-N (default: <federation>-sim)');
    cmd.option('--nats <url>', 'the NATS URL the sites connect to (env TRIBUTARY_NATS)');
    cmd.addHelpText(
      'after',
      `\nThe sites are those of the site SDK: this runs its installed \`${SITE_AGENT_BIN} simulate\` with the\n` +
        'coordinator address, admin key and TLS settings of this command, and shows its progress.\n' +
        'Install the SDK with `npm install @tributary/client-sdk` if it is not there.',
    );
  },
  parse(raw): SimulateInput {
    const federation = nameArg(raw, 0, 'federation');
    const passed = PASSED_OPTIONS.flatMap(([key, flag]) => {
      const value = optString(raw, key);
      return value === undefined ? [] : [flag, value];
    });
    return { federation, passed, nats: optString(raw, 'nats') };
  },
  async run(input, ctx): Promise<SimulateResult> {
    const nats = input.nats ?? ctx.env['TRIBUTARY_NATS'];
    if (nats === undefined || nats === '') {
      throw new UsageError('the sites need a NATS URL', 'Pass --nats or set TRIBUTARY_NATS (`tributary dev` writes it to its env file).');
    }
    const program = locateSiteAgent({ from: [ctx.cwd, CLI_INSTALL_DIR], path: ctx.env['PATH'] });
    const args = [...program.args, 'simulate', input.federation, ...input.passed, '--nats', nats, ...connectionArgs(ctx.clientConfig())];
    if (ctx.json) args.push('--json');
    const { exitCode, stdout } = await runSiteAgent(program, args, ctx);
    if (!ctx.json) return { exitCode };
    return { exitCode, simulation: simulationOf(stdout, exitCode) };
  },
  render() {
    // Its progress and summary were printed as they came.
    return '';
  },
  exitCode: (result) => result.exitCode,
  failure: (result) => (result.exitCode === 0 ? undefined : TributaryError.of(Reason.FAILED_PRECONDITION, 'the simulated run did not finish; `simulation.run` says how it ended')),
});

/** This command's coordinator address, admin key and TLS files, as `tributary-site simulate` flags. */
function connectionArgs(config: ClientConfig): string[] {
  const tls = config.tls;
  return [
    '--coordinator',
    config.coordinator,
    '--admin-key',
    config.keyFile,
    ...(tls?.caFile === undefined ? [] : ['--tls-ca', tls.caFile]),
    ...(tls?.certFile === undefined ? [] : ['--tls-cert', tls.certFile]),
    ...(tls?.keyFile === undefined ? [] : ['--tls-key', tls.keyFile]),
  ];
}

/**
 * Runs the program, its output lines shown as progress as they come (with `--json` its stdout
 * is kept, to be read), and passes Ctrl-C on to it: it stops its sites and exits by itself. Its
 * error, `Error (CODE): message` and a hint on stderr, is thrown as this command's.
 */
function runSiteAgent(program: SiteAgentProgram, args: readonly string[], ctx: CommandContext): Promise<{ exitCode: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    // In a process group of its own, a Ctrl-C at the terminal reaches it once: from here.
    const child = spawn(program.command, args, { cwd: ctx.cwd, env: { ...ctx.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    const lines = new LineSplitter((line) => ctx.progress.line(line));
    child.stdout.on('data', (chunk: Buffer) => {
      if (ctx.json) stdout += chunk.toString();
      else lines.push(chunk.toString());
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const onAbort = (): void => {
      child.kill('SIGINT');
    };
    // A second Ctrl-C exits this process at once; its sites go with it.
    const onExit = (): void => {
      child.kill('SIGTERM');
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    process.once('exit', onExit);
    const settled = (): void => {
      ctx.signal.removeEventListener('abort', onAbort);
      process.off('exit', onExit);
    };
    child.once('error', (err) => {
      settled();
      reject(TributaryError.of(Reason.SITE_AGENT_MISSING, `${program.command} could not be started (${err.message})`, { cause: err }));
    });
    child.once('close', (code, signal) => {
      settled();
      lines.end();
      const exitCode = code ?? (signal === 'SIGINT' ? 130 : 1);
      const failure = errorOf(stderr);
      if (exitCode !== 0 && failure !== undefined) {
        reject(failure);
        return;
      }
      if (!ctx.json) for (const line of stderr.split('\n')) if (line !== '') ctx.progress.line(line);
      resolve({ exitCode, stdout });
    });
  });
}

/** Calls `onLine` with each whole line of a stream of text. */
class LineSplitter {
  private pending = '';
  constructor(private readonly onLine: (line: string) => void) {}
  push(text: string): void {
    const parts = (this.pending + text).split('\n');
    this.pending = parts.pop() ?? '';
    for (const line of parts) this.onLine(line);
  }
  end(): void {
    if (this.pending !== '') this.onLine(this.pending);
    this.pending = '';
  }
}

/** Its `Error (CODE): message` and `Hint: ...` lines, with the hint speaking of this command. */
function errorOf(stderr: string): TributaryError | undefined {
  const m = /^Error \(([A-Z_]+)\): (.*)$(?:\nHint: (.*)$)?/m.exec(stderr);
  if (m === null) return undefined;
  const [, code, message = '', hint] = m;
  return failureOf(code, message, hint);
}

function failureOf(code: unknown, message: string, hint: string | undefined): TributaryError {
  const reason = isReasonCode(code) ? code : Reason.INTERNAL;
  const ours = hint?.replaceAll(`${SITE_AGENT_BIN} simulate`, 'tributary simulate');
  if (reason === Reason.USAGE) return new UsageError(message, ours);
  return TributaryError.of(reason, message, ours === undefined || ours === '' ? {} : { details: { hint: ours } });
}

/** The `result` of its `--json` envelope; its error envelope is thrown as this command's error. */
function simulationOf(stdout: string, exitCode: number): unknown {
  let envelope: { ok?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown; hint?: unknown } };
  try {
    envelope = JSON.parse(stdout.trim().split('\n').pop() ?? '') as typeof envelope;
  } catch {
    throw TributaryError.of(Reason.INTERNAL, `${SITE_AGENT_BIN} simulate exited with ${exitCode} without a JSON envelope`);
  }
  if (envelope.ok === true) return envelope.result;
  const message = typeof envelope.error?.message === 'string' ? envelope.error.message : `${SITE_AGENT_BIN} simulate failed`;
  throw failureOf(envelope.error?.code, message, typeof envelope.error?.hint === 'string' ? envelope.error.hint : undefined);
}
