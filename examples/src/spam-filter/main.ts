// Tributary spam filter: three mail providers learn to tell spam from ham on the SpamAssassin
// public corpus without pooling their mail. Run it with `npm run example:spam`.
//
// It trains the same filter three ways and prints one comparison table, scored on a test set
// that no provider trains on: each provider alone, fedavg over all of them (a logistic
// regression over 2^18 hashed word and bigram features, a 1 MB update per site and round), and
// an ensemble in which each provider sends a different model (two logistic regressions with
// their own hashing and a naive Bayes shipped as a `custom:naive-bayes` payload).
import cliProgress from 'cli-progress';
import { parseArgs } from 'node:util';
import { NATS_SERVER_INSTALL_HINT, NatsServer } from '@tributary/coordinator';
import { describeError } from '../shared/local-stack.js';
import { GROUPS } from './data.js';
import { runSpamFilter, type SpamFilterOptions, type SpamFilterProgress, type SpamFilterReport } from './federation.js';
import { formatTable } from './table.js';

const USAGE = 'usage: npm run example:spam -- [--fraction F] [--rounds N] [--epochs N]';

/**
 * `--fraction` (share of the corpus used, 1 by default), `--rounds` (fedavg rounds, 5) and
 * `--epochs` (SGD epochs a site runs per round, 2): smaller runs for a quick look or a test.
 */
function commandOptions(argv: readonly string[]): Pick<SpamFilterOptions, 'split' | 'rounds' | 'epochsPerRound'> {
  const { values } = parseArgs({ args: [...argv], options: { fraction: { type: 'string' }, rounds: { type: 'string' }, epochs: { type: 'string' } }, strict: true });
  const number = (name: string, text: string | undefined, valid: (n: number) => boolean): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (text.trim() === '' || !valid(n)) throw new Error(`--${name} ${JSON.stringify(text)} is out of range; ${USAGE}`);
    return n;
  };
  const positiveInteger = (n: number): boolean => Number.isInteger(n) && n > 0;
  const fraction = number('fraction', values.fraction, (n) => n > 0 && n <= 1);
  return {
    ...(fraction === undefined ? {} : { split: { fraction } }),
    rounds: number('rounds', values.rounds, positiveInteger),
    epochsPerRound: number('epochs', values.epochs, positiveInteger),
  };
}

async function main(): Promise<number> {
  const options = commandOptions(process.argv.slice(2));
  if (!NatsServer.available()) {
    console.error(NATS_SERVER_INSTALL_HINT);
    return 1;
  }
  const interrupt = new AbortController();
  const onInterrupt = (): void => interrupt.abort(new Error('interrupted'));
  process.once('SIGINT', onInterrupt);
  const bars = new ProgressBars();
  try {
    console.log('SpamAssassin public corpus: training each provider alone, then fedavg, then an ensemble\n');
    const report = await runSpamFilter({ ...options, signal: interrupt.signal, progress: bars });
    bars.stop();
    printReport(report);
    return 0;
  } finally {
    bars.stop();
    process.off('SIGINT', onInterrupt);
  }
}

/**
 * One bar for the rounds of the current run, one for the updates uploaded in it. Without a
 * terminal (output piped to a file or CI), one line per committed round instead.
 */
class ProgressBars implements SpamFilterProgress {
  private readonly multi = process.stderr.isTTY
    ? new cliProgress.MultiBar({ format: '{label} [{bar}] {value}/{total} {unit}', hideCursor: true }, cliProgress.Presets.shades_classic)
    : undefined;
  private rounds: cliProgress.SingleBar | undefined;
  private uploads: cliProgress.SingleBar | undefined;
  private name = '';
  private totalRounds = 0;
  private updates = 0;
  private megabytes = 0;
  private stopped = false;

  phase(name: string, rounds: number, uploads: number): void {
    Object.assign(this, { name, totalRounds: rounds, updates: 0, megabytes: 0 });
    this.rounds = this.multi?.create(rounds, 0, { label: `${name.padEnd(8)} rounds `, unit: 'committed' });
    this.uploads = this.multi?.create(uploads, 0, { label: `${name.padEnd(8)} uploads`, unit: 'updates (0.0 MB)' });
  }

  roundCommitted(round: number): void {
    if (this.rounds !== undefined) this.rounds.increment();
    else console.error(`${this.name}: round ${round}/${this.totalRounds} committed (${this.updates} updates, ${this.megabytes.toFixed(1)} MB uploaded)`);
  }

  updateAccepted(_site: string, bytes: number): void {
    this.updates++;
    this.megabytes += bytes / 1e6;
    this.uploads?.increment({ unit: `updates (${this.megabytes.toFixed(1)} MB)` });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.multi?.stop();
  }
}

function printReport(report: SpamFilterReport): void {
  console.log(`\nemails per sub-corpus (${GROUPS.join(' / ')}):`);
  for (const site of report.sites) console.log(`  ${site.name.padEnd(14)} ${String(site.emails).padStart(5)}  ${site.groups.join(' / ')}`);
  console.log(`  ${'test set'.padEnd(14)} ${String(report.testEmails).padStart(5)}  ${report.testGroups.join(' / ')}\n`);
  console.log(formatTable(report.rows));
  const members = report.ensembleMembers.map((m) => `${m.site} ${m.flavor} ${m.weight.toFixed(2)}`).join(', ');
  console.log(`\nensemble members (site, flavor, weight): ${members}`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`spam filter failed: ${describeError(err)}`);
    process.exit(1);
  },
);
