#!/usr/bin/env node
/**
 * `tributary-site`: runs a site's own training script (Python, R, anything) for every task of a
 * federation. Keys, gRPC, NATS, signing, verification and retries are the SDK's.
 *
 *   tributary-site keygen hospital-a --key site.key   (prints the key id and public key for the operator)
 *   tributary-site enroll --token T --key site.key --coordinator HOST:PORT
 *   tributary-site check  --key site.key --coordinator HOST:PORT --nats URL --federation F
 *   tributary-site run    --key site.key --coordinator HOST:PORT --nats URL --federation F -- python3 train.py
 *   tributary-site run    --config site.yaml        (every flag of `run` also in the file; flags win)
 *
 * Over TLS, `--tls-ca ca.pem` (TRIBUTARY_TLS_CA) trusts that CA for gRPC and NATS alike;
 * `--tls-cert`/`--tls-key` present a client certificate (mutual TLS).
 */
import { Command, CommanderError, Option } from 'commander';
import { Reason, RpcClient, TributaryError, hasReason, isTributaryError, readKeyFile } from '@tributary/proto';
import type { WhoAmIRequest, WhoAmIResponse__Output } from '@tributary/proto';
import { channelCredentials } from '../options.js';
import { SiteClient } from '../site-client.js';
import type { SiteLogger } from '../logging.js';
import type { ParticipationSummary } from '../types.js';
import { runSiteAgent } from './agent.js';
import { readSiteConfig } from './site-config.js';
import { tlsOf, tlsOptions, type TlsFlags } from './tls-flags.js';
import { writeNewSiteKey } from './site-key.js';

/**
 * Exit statuses of `tributary-site`. `run` exits with `ok` when the run FINISHED (or after
 * `--max-tasks`), `runFailed` or `runKilled` when it ended otherwise, `interrupted` on Ctrl-C.
 */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2, runFailed: 3, runKilled: 4, interrupted: 130 });

interface Common extends TlsFlags {
  coordinator: string;
  key: string;
  json?: boolean;
}

/** What to do about a coordinator that cannot be reached, over TLS or not. */
function unreachableHint(o: Common): string {
  return o.tlsCa === undefined
    ? 'Is the coordinator running, at --coordinator? If it serves TLS, pass its CA with --tls-ca / TRIBUTARY_TLS_CA.'
    : `Is the coordinator running, at --coordinator? If it is, its certificate was refused: --tls-ca (${o.tlsCa}) must be the CA that signed it, and the certificate must name ${o.coordinator}.`;
}

/** Errors as one line with their reason, and a hint; or the `--json` envelope. */
function fail(err: unknown, json: boolean | undefined, hint?: string): number {
  const e = TributaryError.from(err);
  if (json === true) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: { code: e.reason, message: e.message, ...(hint === undefined ? {} : { hint }) } })}\n`);
  } else {
    process.stderr.write(`Error (${e.reason}): ${e.message}\n${hint === undefined ? '' : `${hint}\n`}`);
  }
  return e.reason === Reason.CANCELLED ? EXIT.interrupted : e.reason === Reason.USAGE ? EXIT.usage : EXIT.failed;
}

function ok(result: unknown, json: boolean | undefined, human: string): number {
  if (json === true) process.stdout.write(`${JSON.stringify({ ok: true, result })}\n`);
  else process.stdout.write(`${human}\n`);
  return EXIT.ok;
}

/** The SDK's log lines, short, on stderr. */
function stderrLogger(verbose: boolean): SiteLogger {
  const line = (level: string, obj: object, msg?: string): void => {
    const o = obj as Record<string, unknown>;
    const round = typeof o['round'] === 'number' ? `[round ${o['round']}${typeof o['kind'] === 'string' ? ` ${o['kind']}` : ''}] ` : '';
    const err = typeof o['err'] === 'string' ? `: ${o['err']}` : '';
    process.stderr.write(`tributary-site ${level} ${round}${msg ?? ''}${err}\n`);
  };
  return {
    info: (obj, msg) => (verbose ? line('info', obj, msg) : undefined),
    warn: (obj, msg) => line('warn', obj, msg),
    debug: () => undefined,
  };
}

async function enroll(o: Common & { token: string; site?: string }): Promise<number> {
  let created = false;
  try {
    await writeNewSiteKey(o.key, o.site ?? 'site');
    created = true;
  } catch (err) {
    if (!hasReason(err, Reason.ALREADY_EXISTS)) return fail(err, o.json);
  }
  try {
    const { tls } = tlsOf(o);
    const site = await SiteClient.enroll({ coordinator: o.coordinator, key: o.key, invitationToken: o.token, ...(tls === undefined ? {} : { tls }), ...(o.site === undefined ? {} : { siteName: o.site }) });
    const result = { site: site.name, keyId: site.keyId, federations: site.federations, keyFile: o.key, keyCreated: created };
    return ok(result, o.json, `enrolled as site ${site.name} (key ${site.keyId}${created ? `, new key written to ${o.key}` : ''}); member of ${site.federations.join(', ') || 'no federation yet'}`);
  } catch (err) {
    return fail(err, o.json, TributaryError.from(err).code === 'UNAVAILABLE' ? unreachableHint(o) : 'ask the operator for a fresh invitation (`tributary site invite`) if this one was used or expired');
  }
}

async function keygen(name: string, o: { key?: string; force?: boolean; json?: boolean }): Promise<number> {
  try {
    const k = await writeNewSiteKey(o.key ?? `${name}.key`, name, { overwrite: o.force === true });
    return ok(k, o.json, [
      `Wrote key "${k.name}" to ${k.file} (mode 0600). Keep this file secret.`,
      `key id      ${k.keyId}`,
      `public key  ${k.publicKey}`,
      'Send the public key to the operator, who adds the site with',
      `  tributary site add ${k.name} --public-key ${k.publicKey} --federation <name>`,
    ].join('\n'));
  } catch (err) {
    return fail(err, o.json, hasReason(err, Reason.ALREADY_EXISTS) ? 'Pass --force to replace it (its old key stops working), or choose another --key.' : undefined);
  }
}

interface CheckRow {
  check: string;
  ok: boolean;
  detail: string;
}

async function check(o: Common & { nats: string; federation?: string }): Promise<number> {
  const rows: CheckRow[] = [];
  const add = (check: string, okay: boolean, detail: string): void => void rows.push({ check, ok: okay, detail });
  const finish = (): number => {
    const allOk = rows.every((r) => r.ok);
    if (o.json === true) {
      process.stdout.write(`${JSON.stringify(allOk ? { ok: true, result: { checks: rows } } : { ok: false, error: { code: 'CHECK_FAILED', message: rows.find((r) => !r.ok)?.detail ?? '' }, result: { checks: rows } })}\n`);
    } else {
      const w = Math.max(...rows.map((r) => r.check.length));
      for (const r of rows) process.stdout.write(`${r.check.padEnd(w)}  ${r.ok ? 'ok  ' : 'FAIL'}  ${r.detail}\n`);
    }
    return allOk ? EXIT.ok : EXIT.failed;
  };
  let key;
  try {
    key = await readKeyFile(o.key);
    add('key file', true, `${o.key}: key ${key.keyId}`);
  } catch (err) {
    add('key file', false, describe(err));
    return finish();
  }
  let rpc: RpcClient | undefined;
  try {
    const credentials = channelCredentials(undefined, tlsOf(o).tls);
    rpc = new RpcClient({ address: o.coordinator, key, service: 'SiteService', ...(credentials === undefined ? {} : { credentials }) });
    const who = await rpc.unary<WhoAmIRequest, WhoAmIResponse__Output>('WhoAmI', {}, { timeoutMs: 15_000 });
    add('coordinator (gRPC)', true, o.coordinator);
    if (who.role !== 'site' || who.site === null) {
      add('WhoAmI', false, `key ${key.keyId} is ${who.role === '' ? 'unknown' : `an ${who.role} key`}, not a site's`);
      return finish();
    }
    add('WhoAmI', true, `site ${who.site.name} (${who.site.status})`);
    if (o.federation !== undefined) {
      const member = who.site.federations.includes(o.federation);
      add('federation membership', member, member ? o.federation : `not a member of ${o.federation} (member of: ${who.site.federations.join(', ') || 'none'})`);
    }
  } catch (err) {
    const unreachable = TributaryError.from(err).code === 'UNAVAILABLE';
    add('coordinator (gRPC)', false, `${o.coordinator}: ${describe(err)}${unreachable ? ` (${unreachableHint(o)})` : ''}`);
    return finish();
  } finally {
    rpc?.close();
  }
  try {
    const client = await SiteClient.connect({ coordinator: o.coordinator, nats: natsUrls(o.nats), key: o.key, ...tlsOf(o) });
    await client.close();
    add('NATS', true, o.nats);
  } catch (err) {
    add('NATS', false, `${o.nats}: ${describe(err)}`);
  }
  return finish();
}

interface RunFlags extends TlsFlags {
  config?: string;
  federation?: string;
  coordinator?: string;
  nats?: string;
  key?: string;
  maxTasks?: number;
  workDir?: string;
  keepTaskDirs?: boolean;
  verbose?: boolean;
  json?: boolean;
}

type RunSettings = Common & { nats: string; federation: string; maxTasks?: number; workDir?: string; keepTaskDirs?: boolean; verbose?: boolean };

/**
 * `run`'s settings: flags > environment > config file (`--config`). What is still missing is
 * named with the flag and the config key that would give it.
 */
async function runSettings(flags: RunFlags, args: string[], sourceOf: (option: string) => string | undefined): Promise<{ settings: RunSettings; command: readonly string[] }> {
  const file = flags.config === undefined ? undefined : await readSiteConfig(flags.config);
  // A value from the command line or the environment wins over the file's.
  const given = (option: keyof RunFlags): boolean => {
    const source = sourceOf(option);
    return source === 'cli' || source === 'env';
  };
  const merged: RunFlags = { ...flags };
  if (file !== undefined) {
    for (const option of ['federation', 'coordinator', 'nats', 'key', 'maxTasks', 'workDir', 'keepTaskDirs', 'verbose', 'json', 'tlsCa', 'tlsCert', 'tlsKey'] as const) {
      if (!given(option) && file[option] !== undefined) Object.assign(merged, { [option]: file[option] });
    }
  }
  const missing = (['federation', 'coordinator', 'nats', 'key'] as const).filter((option) => merged[option] === undefined);
  if (missing.length > 0) {
    const named = missing.map((option) => `--${option}`).join(', ');
    throw TributaryError.of(Reason.USAGE, `missing ${named}: give ${missing.length === 1 ? 'it' : 'them'} as flags, in TRIBUTARY_* variables, or in the --config file`);
  }
  const command = args.length > 0 ? args : (file?.command ?? []);
  if (command.length === 0) throw TributaryError.of(Reason.USAGE, 'no training command: give it after --, e.g. `-- python3 train.py`, or as `command` in the --config file');
  return { settings: merged as RunSettings, command };
}

async function run(o: RunSettings, command: readonly string[]): Promise<number> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort(TributaryError.of(Reason.CANCELLED, 'interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let client: SiteClient | undefined;
  try {
    client = await SiteClient.connect({ coordinator: o.coordinator, nats: natsUrls(o.nats), key: o.key, logger: stderrLogger(o.verbose === true), ...tlsOf(o) });
    process.stderr.write(`tributary-site: site ${client.site} in federation ${o.federation}; waiting for tasks\n`);
    const summary = await runSiteAgent({
      client,
      federation: o.federation,
      command,
      signal: stop.signal,
      print: (line) => process.stderr.write(`${line}\n`),
      ...(o.maxTasks === undefined ? {} : { maxTasks: o.maxTasks }),
      ...(o.workDir === undefined ? {} : { workDir: o.workDir }),
      ...(o.keepTaskDirs === true ? { keepTaskDirs: true } : {}),
    });
    const { status, human } = runOutcome(summary, stop.signal.aborted);
    if (o.json === true) process.stdout.write(`${JSON.stringify({ ok: status === EXIT.ok, result: summary })}\n`);
    else process.stdout.write(`${human}\n`);
    return status;
  } catch (err) {
    const e = TributaryError.from(stop.signal.aborted ? stop.signal.reason : err);
    return fail(e, o.json, e.code === 'UNAVAILABLE' && client === undefined ? unreachableHint(o) : undefined);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await client?.close();
  }
}

/** The exit status and the closing line of `run`: how the run ended, and the counts. */
function runOutcome(summary: ParticipationSummary, interrupted: boolean): { status: number; human: string } {
  const counts = `${summary.tasks} tasks, ${summary.accepted} accepted, ${summary.refused} refused, ${summary.failed} failed`;
  const end = summary.end;
  if (interrupted) return { status: EXIT.interrupted, human: `interrupted: ${counts}` };
  if (end.how === 'max-tasks') return { status: EXIT.ok, human: `done: ${counts}` };
  if (end.how === 'stopped') return { status: EXIT.failed, human: `stopped: ${counts}` };
  const { run } = end;
  const status = run.status === 'FINISHED' ? EXIT.ok : run.status === 'FAILED' ? EXIT.runFailed : EXIT.runKilled;
  return { status, human: `run ${run.runId} ${run.status}${run.message === '' ? '' : ` (${run.message})`}: ${counts}` };
}

/** `--nats` takes one URL or several separated by commas. */
function natsUrls(v: string): string[] {
  return v.split(',').map((u) => u.trim()).filter((u) => u !== '');
}

function describe(err: unknown): string {
  return isTributaryError(err) ? `${err.reason}: ${err.message}` : err instanceof Error ? err.message : String(err);
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw TributaryError.of(Reason.USAGE, `expected a positive integer, got "${v}"`);
  return n;
}

/** The `tributary-site` program; `exit` receives the status. */
export function siteProgram(exit: (status: number) => void): Command {
  const program = new Command('tributary-site')
    .description('Run your own training script as a site of a Tributary federation')
    .exitOverride()
    .showHelpAfterError();
  // `run` may take these from its --config file, so it checks for them after reading it.
  const coordinatorOption = (): Option => new Option('--coordinator <host:port>', 'the coordinator\'s gRPC address').env('TRIBUTARY_COORDINATOR');
  const keyOption = (): Option => new Option('--key <file>', 'the site\'s key file (mode 0600)').env('TRIBUTARY_SITE_KEY');
  const natsOption = (): Option => new Option('--nats <urls>', 'the NATS URL (several separated by commas)').env('TRIBUTARY_NATS');
  const coordinator = coordinatorOption().makeOptionMandatory();
  const key = keyOption().makeOptionMandatory();
  const nats = natsOption().makeOptionMandatory();
  const withTls = (command: Command): Command => tlsOptions().reduce((c, o) => c.addOption(o), command);
  const json = new Option('--json', 'print one JSON envelope: {"ok":true,"result":...} or {"ok":false,"error":...}');
  program
    .command('keygen')
    .description('create the site\'s Ed25519 key file (mode 0600) and print its key id and public key')
    .argument('<name>', 'the site\'s name')
    .addOption(new Option('--key <file>', 'where to write the key file (default: ./<name>.key)').env('TRIBUTARY_SITE_KEY'))
    .option('--force', 'replace an existing key file')
    .addOption(json)
    .action(async (name: string, o: { key?: string; force?: boolean; json?: boolean }) => exit(await keygen(name, o)));
  withTls(program
    .command('enroll')
    .description('join with an invitation token (writes a new key file if it does not exist)')
    .requiredOption('--token <token>', 'the invitation token from the operator')
    .addOption(key)
    .addOption(coordinator)
    .option('--site <name>', 'the site\'s name, when the invitation does not name it')
    .addOption(json))
    .action(async (o: Common & { token: string; site?: string }) => exit(await enroll(o)));
  withTls(program
    .command('check')
    .description('check the key file, the coordinator, WhoAmI, NATS and federation membership')
    .addOption(key)
    .addOption(coordinator)
    .addOption(nats)
    .option('--federation <name>', 'the federation to check membership of')
    .addOption(json))
    .action(async (o: Common & { nats: string; federation?: string }) => exit(await check(o)));
  const runCommand = withTls(program
    .command('run')
    .description('run the training command for every task until the run ends: `tributary-site run ... -- python3 train.py`')
    .addOption(new Option('--config <file>', 'a YAML file with any of these settings (keys spelled max_tasks, work_dir, ...; `command` as a list); flags and TRIBUTARY_* variables win').env('TRIBUTARY_SITE_CONFIG'))
    .option('--federation <name>', 'the federation to train in')
    .addOption(keyOption())
    .addOption(coordinatorOption())
    .addOption(natsOption())
    .option('--max-tasks <n>', 'end after this many tasks (train and evaluate tasks handled)', positiveInt)
    .option('--work-dir <dir>', 'where task directories are made')
    .option('--keep-task-dirs', 'keep each task directory after its task')
    .option('--verbose', 'also print the SDK\'s informational lines')
    .addOption(json))
    .argument('[command...]', 'the training command, after --');
  runCommand.action(async (args: string[], flags: RunFlags) => {
    let resolved;
    try {
      resolved = await runSettings(flags, args, (option) => runCommand.getOptionValueSource(option));
    } catch (err) {
      exit(fail(err, flags.json));
      return;
    }
    exit(await run(resolved.settings, resolved.command));
  });
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  let status: number = EXIT.ok;
  try {
    await siteProgram((s) => (status = s)).parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return fail(err, argv.includes('--json'));
  }
  return status;
}

process.exitCode = await main(process.argv.slice(2));
