// `npm run example:spam` as a user runs it: the built entry point in its own process (which
// starts its own nats-server and coordinator), reduced to a quarter of the corpus and three
// rounds of one epoch, with its output piped as in CI.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ComparisonRow } from '../../examples/src/spam-filter/federation.js';
import { formatTable } from '../../examples/src/spam-filter/table.js';

const MAIN = fileURLToPath(new URL('../../examples/dist/spam-filter/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COLUMNS = ['model', 'accuracy', 'precision', 'recall', 'F1', 'rounds', 'seconds', 'MB moved'];

interface Exit {
  code: number;
  stdout: string;
  stderr: string;
}

function runExample(args: readonly string[]): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The printed Markdown table: its header cells and one record a row, keyed by header. */
function parseTable(stdout: string): { header: string[]; rows: Array<Record<string, string>> } {
  const lines = stdout.split('\n').filter((l) => l.startsWith('|'));
  const cells = (line: string): string[] => line.slice(1, -1).split('|').map((c) => c.trim());
  const header = cells(lines[0] ?? '|');
  const rows = lines.slice(2).map((line) => Object.fromEntries(cells(line).map((v, i) => [header[i] ?? String(i), v])));
  return { header, rows };
}

describe('npm run example:spam, reduced', () => {
  let exit: Exit;
  let table: ReturnType<typeof parseTable>;

  beforeAll(async () => {
    exit = await runExample(['--fraction', '0.25', '--rounds', '3', '--epochs', '1']);
    table = parseTable(exit.stdout);
  }, 240_000);

  it('exits with code 0', () => {
    expect(exit.code, exit.stderr).toBe(0);
  });

  it('prints one comparison table with a row for each provider alone, fedavg and the ensemble', () => {
    expect(table.header).toEqual(COLUMNS);
    expect(table.rows.map((r) => r['model'])).toEqual(['mail-classic alone', 'mail-hardham alone', 'mail-fresh alone', 'fedavg (3 sites)', 'ensemble (3 models)']);
  });

  it('fills every row with scores between 0 and 1, rounds, wall time and megabytes moved', () => {
    for (const row of table.rows) {
      for (const score of ['accuracy', 'precision', 'recall', 'F1']) {
        expect(row[score], `${row['model']} ${score}`).toMatch(/^[01]\.\d{3}$/);
        expect(Number(row[score])).toBeLessThanOrEqual(1);
      }
      expect(row['rounds']).toMatch(/^\d+$/);
      expect(row['seconds']).toMatch(/^\d+\.\d$/);
      expect(row['MB moved']).toMatch(/^\d+\.\d$/);
    }
  });

  it('runs fedavg for the rounds asked and moves model bytes only for the federated rows', () => {
    const byName = (prefix: string) => table.rows.find((r) => r['model']!.startsWith(prefix))!;
    expect(byName('fedavg')['rounds']).toBe('3');
    expect(byName('ensemble')['rounds']).toBe('1');
    expect(Number(byName('fedavg')['MB moved'])).toBeGreaterThan(0);
    for (const row of table.rows.filter((r) => r['model']!.endsWith(' alone'))) expect(row['MB moved']).toBe('0.0');
  });

  it('gives fedavg a better accuracy than the weakest provider alone', () => {
    const alone = table.rows.filter((r) => r['model']!.endsWith(' alone')).map((r) => Number(r['accuracy']));
    const fedavg = Number(table.rows.find((r) => r['model']!.startsWith('fedavg'))!['accuracy']);
    expect(fedavg).toBeGreaterThan(Math.min(...alone));
  });

  it('prints a plain progress line for every committed round when its output is not a terminal', () => {
    const progress = exit.stderr.split('\n').filter((l) => / committed /.test(l));
    expect(progress.map((l) => l.replace(/ \(.*$/, ''))).toEqual([
      'fedavg: round 1/3 committed',
      'fedavg: round 2/3 committed',
      'fedavg: round 3/3 committed',
      'ensemble: round 1/1 committed',
    ]);
    expect(progress[2]).toMatch(/\(9 updates, \d+\.\d MB uploaded\)$/);
  });

  it('refuses a round count that is not a positive integer, with the usage', async () => {
    const bad = await runExample(['--rounds', '0']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--rounds "0" is out of range; usage: npm run example:spam -- /);
  });
});

describe('the spam filter comparison table', () => {
  const row = (name: string, accuracy: number, rounds: number, seconds: number, bytesMoved: number): ComparisonRow => ({
    name,
    scores: { accuracy, precision: 0.5, recall: 0.25, f1: 1 / 3 },
    rounds,
    seconds,
    bytesMoved,
  });

  it('aligns names left and figures right under a Markdown rule', () => {
    const text = formatTable([row('site alone', 0.8124, 0, 0.04, 0), row('fedavg (3 sites)', 0.91, 5, 12.345, 31_457_280)]);
    expect(text).toBe(
      [
        '| model            | accuracy | precision | recall |    F1 | rounds | seconds | MB moved |',
        '|------------------|---------:|----------:|-------:|------:|-------:|--------:|---------:|',
        '| site alone       |    0.812 |     0.500 |  0.250 | 0.333 |      0 |     0.0 |      0.0 |',
        '| fedavg (3 sites) |    0.910 |     0.500 |  0.250 | 0.333 |      5 |    12.3 |     31.5 |',
      ].join('\n'),
    );
  });

  it('prints only the header and the rule for no rows', () => {
    expect(formatTable([]).split('\n')).toEqual([
      '| model | accuracy | precision | recall | F1 | rounds | seconds | MB moved |',
      '|-------|---------:|----------:|-------:|---:|-------:|--------:|---------:|',
    ]);
  });
});
