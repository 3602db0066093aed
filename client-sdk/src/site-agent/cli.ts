#!/usr/bin/env node
/**
 * `tributary-site`: runs a site's own training script (Python, R, anything) for every task of a
 * federation. Keys, gRPC, NATS, signing, verification and retries are the SDK's.
 *
 *   tributary-site enroll --token T --key site.key --coordinator HOST:PORT
 *   tributary-site check  --key site.key --coordinator HOST:PORT --nats URL --federation F
 *   tributary-site run    --key site.key --coordinator HOST:PORT --nats URL --federation F -- python3 train.py
 */
import { access } from 'node:fs/promises';
import { Command, CommanderError, Option } from 'commander';
import { Reason, RpcClient, TributaryError, generateSigningKey, isTributaryError, readKeyFile, writeKeyFile } from '@tributary/proto';
import type { WhoAmIRequest, WhoAmIResponse__Output } from '@tributary/proto';
import { SiteClient } from '../site-client.js';
import type { SiteLogger } from '../logging.js';
import { runSiteAgent } from './agent.js';

/** Exit statuses of `tributary-site`. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2, interrupted: 130 });

interface Common {
  coordinator: string;
  key: string;
  json?: boolean;
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
    await access(o.key);
  } catch {
    await writeKeyFile(o.key, generateSigningKey(o.site ?? 'site'));
    created = true;
  }
  try {
    const site = await SiteClient.enroll({ coordinator: o.coordinator, key: o.key, invitationToken: o.token, ...(o.site === undefined ? {} : { siteName: o.site }) });
    const result = { site: site.name, keyId: site.keyId, federations: site.federations, keyFile: o.key, keyCreated: created };
    return ok(result, o.json, `enrolled as site ${site.name} (key ${site.keyId}${created ? `, new key written to ${o.key}` : ''}); member of ${site.federations.join(', ') || 'no federation yet'}`);
  } catch (err) {
    return fail(err, o.json, 'ask the operator for a fresh invitation (`tributary site invite`) if this one was used or expired');
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
  const rpc = new RpcClient({ address: o.coordinator, key, service: 'SiteService' });
  try {
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
    add('coordinator (gRPC)', false, `${o.coordinator}: ${describe(err)}`);
    return finish();
  } finally {
    rpc.close();
  }
  try {
    const client = await SiteClient.connect({ coordinator: o.coordinator, nats: o.nats, key: o.key });
    await client.close();
    add('NATS', true, o.nats);
  } catch (err) {
    add('NATS', false, `${o.nats}: ${describe(err)}`);
  }
  return finish();
}

async function run(o: Common & { nats: string; federation: string; maxTasks?: number; workDir?: string; keepTaskDirs?: boolean; verbose?: boolean }, command: string[]): Promise<number> {
  if (command.length === 0) return fail(TributaryError.of(Reason.USAGE, 'no training command: give it after --, e.g. `-- python3 train.py`'), o.json);
  const stop = new AbortController();
  const onSignal = (): void => stop.abort(TributaryError.of(Reason.CANCELLED, 'interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let client: SiteClient | undefined;
  try {
    client = await SiteClient.connect({ coordinator: o.coordinator, nats: o.nats, key: o.key, logger: stderrLogger(o.verbose === true) });
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
    const how = stop.signal.aborted ? 'interrupted' : 'done';
    const human = `${how}: ${summary.tasks} tasks, ${summary.accepted} accepted, ${summary.refused} refused, ${summary.failed} failed`;
    if (o.json === true) process.stdout.write(`${JSON.stringify({ ok: !stop.signal.aborted, result: { ended: how, ...summary } })}\n`);
    else process.stdout.write(`${human}\n`);
    return stop.signal.aborted ? EXIT.interrupted : EXIT.ok;
  } catch (err) {
    return fail(stop.signal.aborted ? stop.signal.reason : err, o.json);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await client?.close();
  }
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
  const coordinator = new Option('--coordinator <host:port>', 'the coordinator\'s gRPC address').env('TRIBUTARY_COORDINATOR').makeOptionMandatory();
  const key = new Option('--key <file>', 'the site\'s key file (mode 0600)').env('TRIBUTARY_SITE_KEY').makeOptionMandatory();
  const nats = new Option('--nats <url>', 'the NATS URL').env('TRIBUTARY_NATS').makeOptionMandatory();
  const json = new Option('--json', 'print one JSON envelope: {"ok":true,"result":...} or {"ok":false,"error":...}');
  program
    .command('enroll')
    .description('join with an invitation token (writes a new key file if it does not exist)')
    .requiredOption('--token <token>', 'the invitation token from the operator')
    .addOption(key)
    .addOption(coordinator)
    .option('--site <name>', 'the site\'s name, when the invitation does not name it')
    .addOption(json)
    .action(async (o: Common & { token: string; site?: string }) => exit(await enroll(o)));
  program
    .command('check')
    .description('check the key file, the coordinator, WhoAmI, NATS and federation membership')
    .addOption(key)
    .addOption(coordinator)
    .addOption(nats)
    .option('--federation <name>', 'the federation to check membership of')
    .addOption(json)
    .action(async (o: Common & { nats: string; federation?: string }) => exit(await check(o)));
  program
    .command('run')
    .description('run the training command for every task: `tributary-site run ... -- python3 train.py`')
    .requiredOption('--federation <name>', 'the federation to train in')
    .addOption(key)
    .addOption(coordinator)
    .addOption(nats)
    .option('--max-tasks <n>', 'end after this many tasks', positiveInt)
    .option('--work-dir <dir>', 'where task directories are made')
    .option('--keep-task-dirs', 'keep each task directory after its task')
    .option('--verbose', 'also print the SDK\'s informational lines')
    .addOption(json)
    .argument('<command...>', 'the training command, after --')
    .action(async (command: string[], o: Common & { nats: string; federation: string; maxTasks?: number }) => exit(await run(o, command)));
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
