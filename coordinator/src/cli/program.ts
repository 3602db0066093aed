import { Command, Option } from 'commander';
import { LOG_LEVELS } from '../config/values.js';
import type { CliCommand, RawInput } from './command.js';

/** Descriptions of the command groups. */
const GROUPS: Readonly<Record<string, string>> = {
  site: 'Partner sites: add, list, revoke, invite',
  federation: 'Federations: create, list, show',
  run: 'Training runs: start, stop, status, list, watch, search (in the tracking store)',
  round: 'Rounds of a run: list',
  model: 'Models: init, inspect (files); list, export, gc (versions)',
  metric: 'Metrics sites stream: tail, show',
  nats: 'NATS credentials: init (operator, accounts, server configuration)',
  tls: 'TLS: init (a local CA and certificates for the coordinator and NATS)',
};

export interface Selection {
  readonly command: CliCommand<unknown, unknown>;
  readonly raw: RawInput;
  /** The former spelling the command was called by, if any. */
  readonly alias?: readonly string[];
}

/**
 * The commander program for the given commands. Parsing only selects a command and collects its
 * raw input (through `onSelect`); the runner validates and runs it. Commander never exits the
 * process nor prints errors itself: its errors are thrown as CommanderError.
 */
export function buildProgram(opts: {
  commands: readonly CliCommand<unknown, unknown>[];
  version: string;
  writeOut: (text: string) => void;
  writeErr: (text: string) => void;
  onSelect: (selection: Selection) => void;
}): Command {
  const program = new Command('tributary')
    .description('Operate a Tributary federated training coordinator.')
    .version(opts.version, '-v, --version', 'print the version')
    .addOption(logLevelOption())
    // Program options go before the command, so a command may have its own --version.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: opts.writeOut, writeErr: opts.writeErr, outputError: () => {} })
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      [
        '',
        'Admin commands connect to --coordinator (TRIBUTARY_COORDINATOR, default 127.0.0.1:7400)',
        'and sign calls with --key (TRIBUTARY_KEY, default ./admin.key); --tls-ca (TRIBUTARY_TLS_CA)',
        'connects with TLS to a coordinator that has tls_cert and tls_key.',
        '',
        'Get started:  tributary dev        (a local nats-server and coordinator)',
      ].join('\n'),
    );

  for (const command of opts.commands) addCommand(program, command, command.path, false, opts.onSelect);
  // After every current spelling, so a former one never creates a visible group.
  for (const command of opts.commands) {
    for (const alias of command.aliases ?? []) addCommand(program, command, alias, true, opts.onSelect);
  }
  return program;
}

/** Adds `command` at `path` (a group word and a verb, or one word); hidden spellings stay out of help. */
function addCommand(
  program: Command,
  command: CliCommand<unknown, unknown>,
  path: readonly string[],
  hidden: boolean,
  onSelect: (selection: Selection) => void,
): void {
  const [first, second] = path;
  if (first === undefined) return;
  let parent = program;
  let name = first;
  if (second !== undefined) {
    parent =
      program.commands.find((c) => c.name() === first) ??
      program.command(first, { hidden }).description(GROUPS[first] ?? first);
    name = second;
  }
  const leaf = parent.command(name, { hidden }).description(command.summary);
  for (const [spec, description] of command.args ?? []) leaf.argument(spec, description);
  command.options?.(leaf);
  if (command.connects === true) {
    leaf.option('--coordinator <host:port>', 'coordinator address (env TRIBUTARY_COORDINATOR)');
    leaf.option('--key <file>', 'signing key file (env TRIBUTARY_KEY)');
    leaf.option('--tls-ca <file>', 'connect with TLS, trusting this CA certificate (PEM) (env TRIBUTARY_TLS_CA)');
    leaf.option('--tls-cert <file>', 'client certificate (PEM) for mutual TLS, with --tls-key (env TRIBUTARY_TLS_CERT)');
    leaf.option('--tls-key <file>', 'client private key (PEM) for mutual TLS (env TRIBUTARY_TLS_KEY)');
    leaf.option('--timeout <duration>', 'deadline of each call to the coordinator, e.g. 10s, 2m (env TRIBUTARY_TIMEOUT; default 30s)');
  }
  if (command.quiet !== undefined) leaf.option('-q, --quiet', 'print only the ids (or token), one a line, for scripts');
  leaf.option('--json', 'print one JSON envelope: {"ok":true,"result":...} or {"ok":false,"error":...}');
  leaf.addOption(logLevelOption());
  leaf.action((...params: unknown[]) => {
    const self = params[params.length - 1] as Command;
    const raw = { args: self.processedArgs as unknown[], opts: self.optsWithGlobals() };
    onSelect(hidden ? { command, raw, alias: path } : { command, raw });
  });
}

function logLevelOption(): Option {
  return new Option('--log-level <level>', 'log level; debug also prints stack traces').choices(LOG_LEVELS);
}

/** The command path named by argv's leading words (for hints on usage errors). */
export function commandPathOf(program: Command, argv: readonly string[]): string[] {
  const path: string[] = [];
  let current = program;
  for (const word of argv) {
    if (word.startsWith('-')) continue;
    const next = current.commands.find((c) => c.name() === word);
    if (next === undefined) {
      // Before the first command word, a non-option word is an option's value.
      if (path.length === 0) continue;
      break;
    }
    path.push(word);
    current = next;
  }
  return path;
}
