/** Aligned columns with a header row; cells are padded with two spaces between columns. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `label  value` pairs with labels aligned; undefined values are left out. */
export function fields(pairs: readonly (readonly [label: string, value: string | undefined])[]): string {
  const shown = pairs.filter((p): p is readonly [string, string] => p[1] !== undefined);
  const width = Math.max(0, ...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}

/** UTC time to the second; `-` for 0 (never). */
export function formatTime(ms: number): string {
  if (ms <= 0) return '-';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** `850ms`, `12.3s`, `4m05s`, `2h03m`. */
export function formatElapsed(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `512 B`, `1.5 KiB`, `3.2 MiB`, `1.0 GiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A proto enum value without its type prefix: `RUN_STATUS_RUNNING` -> `RUNNING`. */
export function enumLabel(value: string, prefix: string): string {
  return value.startsWith(prefix) ? value.slice(prefix.length) : value;
}

/** Metrics as `key=value` pairs, sorted by key, numbers to 4 significant digits. */
export function formatMetrics(metrics: Readonly<Record<string, number>>): string {
  const keys = Object.keys(metrics).sort();
  if (keys.length === 0) return '-';
  return keys.map((k) => `${k}=${formatNumber(metrics[k] ?? Number.NaN)}`).join(' ');
}

export function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(4)));
}

/** A list or `-` when empty. */
export function list(items: readonly string[]): string {
  return items.length === 0 ? '-' : items.join(',');
}

/** `1 round`, `3 rounds`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** How long ago `ms` was: `never` for 0, `12s ago`, `4m ago`, `3h ago`, `2d ago` (a time ahead of `nowMs` is `0s ago`). */
export function formatAgo(ms: number, nowMs = Date.now()): string {
  if (ms <= 0) return 'never';
  const s = Math.max(0, Math.floor((nowMs - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}
