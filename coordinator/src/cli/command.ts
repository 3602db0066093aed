import type { Command } from 'commander';
import type { TributaryError } from '@tributary/proto';
import type { AdminClient } from '../admin-client.js';
import type { ClientConfig } from '../config/client-config.js';
import type { LogLevel } from '../config/values.js';
import type { Progress } from './progress.js';

/** A command's arguments and options as commander parsed them, before validation. */
export interface RawInput {
  readonly args: readonly unknown[];
  readonly opts: Readonly<Record<string, unknown>>;
}

/** What a command may use while it runs. */
export interface CommandContext {
  /** `--json`: print one envelope, nothing else on stdout. */
  readonly json: boolean;
  /** `--log-level`, when given. */
  readonly logLevel: LogLevel | undefined;
  /** Aborted on SIGINT / SIGTERM. */
  readonly signal: AbortSignal;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** `--coordinator` / `--key` after flags > environment > defaults. */
  clientConfig(): ClientConfig;
  /** A client of the coordinator, opened on first use and closed when the command ends. */
  admin(): Promise<AdminClient>;
  /** Live lines for people; silent with `--json`. */
  readonly progress: Progress;
  /** Someone at a terminal can answer a question (stdin is a TTY, no `--json`). */
  readonly interactive: boolean;
  /** Asks a yes/no question on the terminal; false when nobody can answer. */
  confirm(question: string): Promise<boolean>;
}

/** How a result is shown to people. */
export interface RenderContext {
  /** stdout is a terminal. */
  readonly tty: boolean;
}

/**
 * A result that keeps running after it is printed (servers): the runner prints `result`, then
 * awaits `untilStopped`, which resolves after a clean shutdown on SIGINT / SIGTERM.
 */
export class Running<R> {
  constructor(
    readonly result: R,
    readonly untilStopped: () => Promise<void>,
  ) {}
}

/**
 * One CLI command, in its own file under `cli/commands/`: it declares its arguments and options,
 * validates them into a typed input, runs, and returns a typed result that `render` shows to
 * people (or the runner prints as `{"ok":true,"result":...}` with `--json`).
 */
export interface CliCommand<I, R> {
  /** `['site', 'add']`, or `['keygen']` for a top-level command: a singular noun, then a verb. */
  readonly path: readonly string[];
  /** Former spellings (`['rounds', 'list']`): still accepted for one release, hidden from help. */
  readonly aliases?: readonly (readonly string[])[];
  readonly summary: string;
  /** Commander argument specs with descriptions: `[['<name>', 'site name']]`. */
  readonly args?: readonly (readonly [spec: string, description: string])[];
  /** Adds `--coordinator` and `--key`. */
  readonly connects?: boolean;
  /**
   * The command stops cleanly by itself when `ctx.signal` aborts (servers); otherwise SIGINT /
   * SIGTERM cancel it at once.
   */
  readonly handlesInterrupt?: boolean;
  /** Declares the command's own options. */
  options?(cmd: Command): void;
  /** Validates commander's values into the typed input; errors here are usage errors (exit 2). */
  parse(raw: RawInput): I;
  run(input: I, ctx: CommandContext): Promise<R | Running<R>>;
  /** Human output; an empty string prints nothing. */
  render(result: R, ctx: RenderContext): string;
  /**
   * With `-q, --quiet` (offered when this is defined): only what a script needs, e.g. ids one a
   * line, for `RUN=$(tributary run list iris --quiet | head -n 1)`.
   */
  quiet?(result: R): string;
  /** Exit code of a successful command. @default 0 */
  exitCode?(result: R): number;
  /**
   * A result that reports a failure (a watched run that FAILED): with `--json` the envelope is
   * `{"ok":false,"error":...,"result":...}`, and the exit code 1.
   */
  failure?(result: R): TributaryError | undefined;
}

/** Identity, for type inference of a command's input and result. */
export function defineCommand<I, R>(command: CliCommand<I, R>): CliCommand<I, R> {
  return command;
}
