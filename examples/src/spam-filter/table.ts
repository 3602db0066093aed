// The comparison table the spam filter prints: one row a model, scores to three decimals,
// numbers right-aligned, as a Markdown table so it can be pasted into notes as it is.
import type { ComparisonRow } from './federation.js';

const HEADER = ['model', 'accuracy', 'precision', 'recall', 'F1', 'rounds', 'seconds', 'MB moved'] as const;

export function formatTable(rows: readonly ComparisonRow[]): string {
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
  const widths = HEADER.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c]!.length)));
  const line = (row: readonly string[]): string => `| ${row.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join(' | ')} |`;
  // The model column is left-aligned (`---`), the figures right-aligned (`--:`).
  const rule = `|${widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(HEADER), rule, ...cells.map(line)].join('\n');
}
