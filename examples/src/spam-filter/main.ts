// Tributary spam filter: three mail providers learn to tell spam from ham on the SpamAssassin
// public corpus without pooling their mail. Run it with `npm run example:spam`.
//
// It trains the same filter three ways and prints one comparison table, scored on a test set
// that no provider trains on: each provider alone, fedavg over all of them (a logistic
// regression over 2^18 hashed word and bigram features, a 1 MB update per site and round), and
// an ensemble in which each provider sends a different model (two logistic regressions with
// their own hashing and a naive Bayes shipped as a `custom:naive-bayes` payload).
import cliProgress from 'cli-progress';
import { NATS_SERVER_INSTALL_HINT, NatsServer } from '@tributary/coordinator';
import { describeError } from '../shared/local-stack.js';
import { GROUPS } from './data.js';
import { runSpamFilter, type ComparisonRow, type SpamFilterProgress, type SpamFilterReport } from './federation.js';

async function main(): Promise<number> {
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
    const report = await runSpamFilter({ signal: interrupt.signal, progress: bars });
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

function formatTable(rows: readonly ComparisonRow[]): string {
  const header = ['model', 'accuracy', 'precision', 'recall', 'F1', 'rounds', 'seconds', 'MB moved'];
  const cells = rows.map((r) => [
    r.name,
    r.scores.accuracy.toFixed(3),
    r.scores.precision.toFixed(3),
    r.scores.recall.toFixed(3),
    r.scores.f1.toFixed(3),
    String(r.rounds),
    r.seconds.toFixed(1),
    (r.bytesMoved / 1e6).toFixed(1),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c]!.length)));
  const line = (row: readonly string[]): string => `| ${row.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, c) => (c === 0 ? '-' : '').padEnd(w + 1, '-') + (c === 0 ? '-' : ':')).join('|')}|`, ...cells.map(line)].join('\n');
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`spam filter failed: ${describeError(err)}`);
    process.exit(1);
  },
);
