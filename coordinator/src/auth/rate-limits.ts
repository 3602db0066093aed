import { Reason, TributaryError } from '@tributary/proto';

/** A token bucket's shape: `rate` tokens a second, at most `burst` saved up. */
export interface TokenBucketLimit {
  readonly ratePerSecond: number;
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

/**
 * Token buckets by key (a key id, a peer address), in bounded memory: at most `maxEntries`
 * buckets. A bucket that has refilled completely holds nothing worth keeping, so when the table
 * is full those are dropped first; when none can be dropped the caller is refused.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweepMs = 0;

  constructor(
    private readonly limit: TokenBucketLimit,
    private readonly maxEntries: number,
  ) {}

  /** Takes one token of `key`'s bucket; false when it is empty (or no bucket can be made). */
  take(key: string, nowMs: number): boolean {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxEntries && !this.sweep(nowMs)) return false;
      bucket = { tokens: this.limit.burst, atMs: nowMs };
      this.buckets.set(key, bucket);
    }
    const refill = ((nowMs - bucket.atMs) / 1000) * this.limit.ratePerSecond;
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + Math.max(0, refill));
    bucket.atMs = nowMs;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }

  // Drops the buckets that are full again; at most once a second, so a full table costs little.
  private sweep(nowMs: number): boolean {
    if (nowMs - this.lastSweepMs < 1000) return false;
    this.lastSweepMs = nowMs;
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((nowMs - b.atMs) / 1000) * this.limit.ratePerSecond >= this.limit.burst) this.buckets.delete(key);
    }
    return this.buckets.size < this.maxEntries;
  }
}

/** The coordinator's call rate limits: one bucket per peer address, one per known key. */
export class CallRateLimits {
  private readonly peers: TokenBuckets;
  private readonly keys: TokenBuckets;

  constructor(opts: { perPeer: TokenBucketLimit; perKey: TokenBucketLimit; maxTracked: number }) {
    this.peers = new TokenBuckets(opts.perPeer, opts.maxTracked);
    this.keys = new TokenBuckets(opts.perKey, opts.maxTracked);
  }

  /** Charges a call to its peer address, before anything else is done for it. */
  chargePeer(peer: string, nowMs: number = Date.now()): void {
    if (!this.peers.take(peer, nowMs)) throw TributaryError.of(Reason.RATE_LIMITED, 'too many calls from this address; retry later');
  }

  /** Charges a call to its key, once the key is known and its signature verified. */
  chargeKey(keyId: string, nowMs: number = Date.now()): void {
    if (!this.keys.take(keyId, nowMs)) throw TributaryError.of(Reason.RATE_LIMITED, 'too many calls with this key; retry later');
  }
}

/** The address of a grpc-js peer ("ipv4:1.2.3.4:5678", "[::1]:5678", "1.2.3.4:5678") without its port. */
export function peerAddressOf(peer: string): string {
  const bare = peer.replace(/^(ipv4|ipv6|unix):/, '');
  const colon = bare.lastIndexOf(':');
  if (colon <= 0 || bare.startsWith('/')) return bare;
  const host = bare.slice(0, colon);
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
