// Hashed bag-of-words and bigram features of an email, stored as a sparse matrix (CSR) so that
// training walks flat typed arrays and allocates nothing per example.
import { isSpam, type Email } from './data.js';

/** How words and bigrams are hashed: `2^bits` buckets, and a seed that picks the hash function. */
export interface HashingSpec {
  readonly bits: number;
  readonly seed: number;
}

/** Emails as rows of L2-normalised hashed counts. */
export interface SparseDataset {
  readonly size: number;
  readonly dims: number;
  /** Row i's entries are at [offsets[i], offsets[i + 1]). */
  readonly offsets: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float32Array;
  /** 1 = spam, 0 = ham. */
  readonly labels: Uint8Array;
}

const TOKEN = /[a-z0-9$!']{2,24}/g;

/** FNV-1a over the token's UTF-16 code units, salted with the seed. */
function hashToken(token: string, seed: number): number {
  let h = (0x811c9dc5 ^ Math.imul(seed, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < token.length; i++) {
    h ^= token.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ (b >>> 16), 0x85ebca6b) ^ b;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export function featurize(emails: readonly Email[], spec: HashingSpec): SparseDataset {
  if (!Number.isInteger(spec.bits) || spec.bits < 4 || spec.bits > 24) throw new Error(`hashing bits must be an integer in [4, 24], got ${spec.bits}`);
  const dims = 1 << spec.bits;
  const mask = dims - 1;
  const offsets = new Int32Array(emails.length + 1);
  const rows: { indices: Int32Array; values: Float32Array }[] = [];
  const counts = new Map<number, number>();
  emails.forEach((email, i) => {
    counts.clear();
    let previous = -1;
    for (const match of email.text.toLowerCase().matchAll(TOKEN)) {
      const h = hashToken(match[0], spec.seed);
      counts.set(h & mask, (counts.get(h & mask) ?? 0) + 1);
      if (previous >= 0) {
        const b = mix(previous, h) & mask;
        counts.set(b, (counts.get(b) ?? 0) + 1);
      }
      previous = h;
    }
    const indices = Int32Array.from(counts.keys());
    // log(1 + count), then unit length: long emails do not dominate the gradient.
    const values = Float32Array.from(counts.values(), (c) => Math.log1p(c));
    let norm = 0;
    for (const v of values) norm += v * v;
    norm = Math.sqrt(norm) || 1;
    for (let k = 0; k < values.length; k++) values[k]! /= norm;
    rows.push({ indices, values });
    offsets[i + 1] = offsets[i]! + indices.length;
  });
  const indices = new Int32Array(offsets[emails.length]!);
  const values = new Float32Array(indices.length);
  rows.forEach((row, i) => {
    indices.set(row.indices, offsets[i]!);
    values.set(row.values, offsets[i]!);
  });
  return { size: emails.length, dims, offsets, indices, values, labels: Uint8Array.from(emails, (e) => (isSpam(e.group) ? 1 : 0)) };
}
