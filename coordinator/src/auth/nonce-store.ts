import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { NonceClaim, NonceStore, RememberedNonce } from '@tributary/proto';

/** Slices of the replay window; each slice is one file, dropped whole once it has aged out. */
const SLICES_PER_WINDOW = 8;
const BUCKET_FILE = /^(\d{1,16})\.nonces$/;

interface Bucket {
  readonly nonces: Set<string>;
  readonly fd: number;
}

/**
 * The call nonces seen within the replay window, in memory and on disk, so a call captured
 * shortly before a restart stays a replay after it. A nonce lives in the bucket of the time
 * until which it must be refused (`untilMs`); a bucket is one append-only file of
 * `<keyId> <nonce>` lines, dropped whole when its slice of time has passed. Every claim costs the
 * same (one set lookup, one small append), memory and disk stay under `maxNonces` entries, and
 * a full store refuses new calls rather than forgetting live nonces.
 */
export class BucketedNonceStore implements NonceStore {
  private readonly buckets = new Map<number, Bucket>();
  private count = 0;

  private constructor(
    private readonly dir: string,
    private readonly sliceMs: number,
    private readonly maxNonces: number,
  ) {}

  /** Opens (or creates) the store in `dir`, dropping the files that aged out while it was closed. */
  static open(dir: string, opts: { skewMs: number; maxNonces: number; nowMs?: number }): BucketedNonceStore {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const store = new BucketedNonceStore(dir, Math.max(1, Math.ceil(opts.skewMs / SLICES_PER_WINDOW)), opts.maxNonces);
    const now = opts.nowMs ?? Date.now();
    for (const file of readdirSync(dir)) {
      const m = BUCKET_FILE.exec(file);
      if (!m) continue;
      const index = Number(m[1]);
      if (store.expired(index, now)) {
        rmSync(join(dir, file), { force: true });
        continue;
      }
      const nonces = new Set<string>();
      for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
        // A torn last line (crash mid-write) is skipped; its call never got an answer.
        const [keyId, nonce, extra] = line.split(' ');
        if (!keyId || !nonce || extra !== undefined || store.count + nonces.size >= store.maxNonces) continue;
        nonces.add(`${keyId}:${nonce}`);
      }
      store.buckets.set(index, { nonces, fd: openSync(join(dir, file), 'a', 0o600) });
      store.count += nonces.size;
    }
    return store;
  }

  /** Nonces held now. */
  get size(): number {
    return this.count;
  }

  claim(entry: RememberedNonce, nowMs: number): NonceClaim {
    this.dropExpired(nowMs);
    const index = Math.floor(entry.untilMs / this.sliceMs);
    const key = `${entry.keyId}:${entry.nonce}`;
    let bucket = this.buckets.get(index);
    if (bucket?.nonces.has(key) === true) return 'replayed';
    if (this.count >= this.maxNonces) return 'full';
    if (bucket === undefined) {
      bucket = { nonces: new Set(), fd: openSync(this.fileOf(index), 'a', 0o600) };
      this.buckets.set(index, bucket);
    }
    // Written before the call proceeds: a crash after this line still refuses the replay.
    writeSync(bucket.fd, `${entry.keyId} ${entry.nonce}\n`);
    bucket.nonces.add(key);
    this.count += 1;
    return 'fresh';
  }

  close(): void {
    for (const b of this.buckets.values()) closeSync(b.fd);
    this.buckets.clear();
    this.count = 0;
  }

  private dropExpired(nowMs: number): void {
    for (const [index, bucket] of this.buckets) {
      if (!this.expired(index, nowMs)) continue;
      closeSync(bucket.fd);
      rmSync(this.fileOf(index), { force: true });
      this.count -= bucket.nonces.size;
      this.buckets.delete(index);
    }
  }

  // Every nonce of a bucket must be refused until at most the end of its slice; after that the
  // skew check refuses its replay on its own.
  private expired(index: number, nowMs: number): boolean {
    return (index + 1) * this.sliceMs < nowMs;
  }

  private fileOf(index: number): string {
    return join(this.dir, `${index}.nonces`);
  }
}
