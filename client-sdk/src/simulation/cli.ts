/**
 * `tributary-site simulate <federation> --sites N --example quickstart`: N real sites of a
 * built-in example in this process against a running coordinator (see `simulate`).
 */
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { Reason, TributaryError } from '@tributary/proto';
import { tlsOf, tlsOptions, type TlsFlags } from '../site-agent/tls-flags.js';
import { SIMULATION_EXAMPLES } from './examples.js';
import { MAX_SIMULATED_SITES, simulate } from './simulation.js';
import type { SimulationProgress, SimulationResult } from './simulation.js';

const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

interface SimulateFlags extends TlsFlags {
  sites: number;
  example: string;
  rounds?: number;
  seed?: number;
  dir?: string;
  namePrefix?: string;
  coordinator: string;
  nats: string;
  adminKey: string;
  json?: boolean;
}


function wholeNumber(min: number, max: number) {
  return (v: string): number => {
    const n = /^\d{1,9}$/.test(v) ? Number(v) : Number.NaN;
    if (!(n >= min && n <= max)) throw TributaryError.of(Reason.USAGE, `expected a whole number from ${min} to ${max}, got "${v}"`);
    return n;
  };
}

export function simulateProgram(run: (federation: string, flags: SimulateFlags) => Promise<void>): Command {
  const program = new Command('tributary-site').exitOverride().configureOutput({ outputError: () => {} });
  const simulate = program
    .command('simulate')
    .description('run N sites of a built-in example in this process against a running coordinator, and one run of the federation')
    .argument('<federation>', 'the federation to train (its model must be the example\'s)')
    .requiredOption('--sites <n>', `how many sites (1-${MAX_SIMULATED_SITES})`, wholeNumber(1, MAX_SIMULATED_SITES))
    .addOption(new Option('--example <name>', 'the built-in example').choices(Object.keys(SIMULATION_EXAMPLES)).default('quickstart'))
    .option('--rounds <n>', "rounds of the run (default: the federation's setting)", wholeNumber(1, 1_000_000))
    .option('--seed <n>', 'seed of the data split (default 7)', wholeNumber(0, 999_999_999))
    .option('--dir <dir>', "where each site keeps its key, in a directory of its own (default: <tmp>/tributary-simulate/<federation>)")
    .option('--name-prefix <prefix>', 'site names are <prefix>-1 ... <prefix>-N (default: <federation>-sim)')
    .addOption(new Option('--coordinator <host:port>', "the coordinator's gRPC address").env('TRIBUTARY_COORDINATOR').default('127.0.0.1:7400'))
    .addOption(new Option('--nats <url>', 'the NATS URL').env('TRIBUTARY_NATS').makeOptionMandatory())
    .addOption(new Option('--admin-key <file>', 'an admin key file: invites the sites and starts the run').env('TRIBUTARY_KEY').makeOptionMandatory());
  for (const option of tlsOptions()) simulate.addOption(option);
  simulate
    .option('--json', 'print one JSON envelope: {"ok":true,"result":...} or {"ok":false,"error":...}')
    .action((federation: string, flags: SimulateFlags) => run(federation, flags));
  return program;
}

/** Runs `tributary-site simulate ...`; returns the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const json = argv.includes('--json');
  const stop = new AbortController();
  const onSignal = (): void => stop.abort(TributaryError.cancelled('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let status: number = EXIT.ok;
  try {
    await simulateProgram(async (federation, flags) => {
      const dir = resolve(flags.dir ?? join(tmpdir(), 'tributary-simulate', federation));
      const { tls } = tlsOf(flags);
      const result = await simulate({
        coordinator: flags.coordinator,
        nats: flags.nats,
        adminKey: resolve(flags.adminKey),
        ...(tls === undefined ? {} : { tls }),
        federation,
        sites: flags.sites,
        example: flags.example,
        dir,
        signal: stop.signal,
        ...(flags.rounds === undefined ? {} : { rounds: flags.rounds }),
        ...(flags.seed === undefined ? {} : { seed: flags.seed }),
        ...(flags.namePrefix === undefined ? {} : { namePrefix: flags.namePrefix }),
        ...(json ? {} : { onProgress: (e: SimulationProgress) => process.stdout.write(`${progressLine(e)}`) }),
      });
      if (json) process.stdout.write(`${JSON.stringify({ ok: true, result })}\n`);
      else process.stdout.write(`${summary(result)}\n`);
      status = result.run.status === 'RUN_STATUS_FINISHED' ? EXIT.ok : EXIT.failed;
    }).parseAsync(['simulate', ...argv], { from: 'user' });
    return status;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT.ok;
      return fail(TributaryError.of(Reason.USAGE, err.message.replace(/^error: /, '')), json, 'Run `tributary-site simulate --help` for usage.');
    }
    const e = TributaryError.from(stop.signal.aborted ? stop.signal.reason : err);
    const hint = e.details?.['hint'];
    return fail(e, json, typeof hint === 'string' ? hint : hintFor(e));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function fail(e: TributaryError, json: boolean, hint: string): number {
  const code = e.reason === Reason.INTERNAL ? e.code : e.reason;
  if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: { code, message: e.message, hint } })}\n`);
  else process.stderr.write(`Error (${code}): ${e.message}\n${hint === '' ? '' : `Hint: ${hint}\n`}`);
  return e.code === 'CANCELLED' ? EXIT.interrupted : e.reason === Reason.USAGE ? EXIT.usage : EXIT.failed;
}

function hintFor(e: TributaryError): string {
  if (e.reason === Reason.USAGE) return 'Run `tributary-site simulate --help` for usage.';
  switch (e.code) {
    case 'UNAVAILABLE':
    case 'DEADLINE_EXCEEDED':
      return 'Is the coordinator running? `tributary dev` prints TRIBUTARY_COORDINATOR, TRIBUTARY_NATS and TRIBUTARY_KEY to export (and TRIBUTARY_TLS_CA with --tls: a coordinator serving TLS needs --tls-ca).';
    case 'UNAUTHENTICATED':
    case 'PERMISSION_DENIED':
      return 'simulate needs an admin key (--admin-key / TRIBUTARY_KEY) to invite its sites and start the run.';
    case 'NOT_FOUND':
      return '`tributary federation list` shows the federations.';
    case 'FAILED_PRECONDITION':
      return '`tributary run list` shows runs in progress.';
    default:
      return '';
  }
}

function progressLine(e: SimulationProgress): string {
  switch (e.type) {
    case 'site-ready':
      return `site ${e.site} ${e.enrolled ? 'enrolled with an invitation' : 'already enrolled'} (${e.rows} training rows, key ${e.keyFile})\n`;
    case 'run-started':
      return `run ${e.run.id} of ${e.run.federation} started: ${e.run.rounds} rounds\n`;
    case 'update':
      return e.accepted ? `  ${e.site}: round ${e.round} update accepted\n` : `  ${e.site}: round ${e.round} update refused (${e.reason})\n`;
    case 'round-ended': {
      const r = e.round;
      const state = r.state.replace(/^ROUND_STATE_/, '');
      const loss = r.metrics['loss'];
      const detail = state === 'COMMITTED' ? `version ${r.committedVersion}${loss === undefined ? '' : `, mean site loss ${loss.toFixed(4)}`}` : r.failureReason;
      return `round ${r.number}/${e.run.rounds} ${state}: ${r.accepted.length}/${r.selectedSites.length} sites accepted, ${detail}\n`;
    }
  }
}

function summary(r: SimulationResult): string {
  const status = r.run.status.replace(/^RUN_STATUS_/, '');
  const scores = Object.entries(r.evaluation).map(([k, v]) => `held-out ${k} ${v.toFixed(2)}`);
  const failure = r.run.failureReason === '' ? '' : `: ${r.run.failureReason}`;
  return `Run ${r.run.id} ${status}${failure}; model version ${r.run.latestVersion}${scores.length === 0 ? '' : `; ${scores.join(', ')}`}.`;
}

process.exitCode = await main(process.argv.slice(3));
