import { TributaryError } from '@tributary/proto';
import type { Logger } from '../observability/logger.js';
import type { SiteLastSeenTable } from '../state/index.js';

/** Whether a site is connected now, and when it was last heard from (0 = never). */
export interface SitePresenceView {
  readonly lastSeenAtMs: number;
  readonly connected: boolean;
}

export const NEVER_SEEN: SitePresenceView = Object.freeze({ lastSeenAtMs: 0, connected: false });

export interface SitePresenceOptions {
  table: SiteLastSeenTable;
  logger: Logger;
  /**
   * Longest time a new last-seen time waits before it is stored: each site's time is written at
   * most once in this interval however often it calls. @default 30_000
   */
  writeIntervalMs?: number;
  /** @default Date.now */
  now?: () => number;
}

interface Entry {
  /** The exact latest time the site was heard from. */
  lastSeenAtMs: number;
  /** Open WatchTasks streams. */
  streams: number;
}

/**
 * Which sites are connected (an open WatchTasks stream; a site may hold several) and when each
 * was last heard from. Callers report only authenticated, known sites, so a stranger costs
 * nothing here. The latest time is exact in memory; the table gets it at most once per site per
 * write interval, and everything at `close()`. Connected is not stored: after a restart no
 * site is connected until it opens a stream again.
 */
export class SitePresence {
  private readonly entries = new Map<string, Entry>();
  /** Sites whose latest time the table does not have yet. */
  private readonly dirty = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly now: () => number;

  private constructor(private readonly opts: SitePresenceOptions) {
    this.now = opts.now ?? Date.now;
    this.timer = setInterval(() => void this.flush(), opts.writeIntervalMs ?? 30_000);
    this.timer.unref();
  }

  /** Loads the stored last-seen times and starts the periodic write. */
  static async open(opts: SitePresenceOptions): Promise<SitePresence> {
    const presence = new SitePresence(opts);
    for (const [site, lastSeenAtMs] of await opts.table.load()) presence.entries.set(site, { lastSeenAtMs, streams: 0 });
    return presence;
  }

  /** The site was heard from at `atMs` (default now); an older time than the one known changes nothing. */
  seen(site: string, atMs: number = this.now()): void {
    const entry = this.entryOf(site);
    if (atMs <= entry.lastSeenAtMs) return;
    entry.lastSeenAtMs = atMs;
    this.dirty.add(site);
  }

  /**
   * The site opened a WatchTasks stream: it is connected until every stream it opened has
   * ended. Returns the stream's end, to call once (later calls change nothing).
   */
  streamOpened(site: string): () => void {
    const entry = this.entryOf(site);
    entry.streams += 1;
    this.seen(site);
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      entry.streams -= 1;
      this.seen(site);
    };
  }

  /**
   * What ListSites and the dashboard show: a connected site is heard from now. A time before
   * `sinceMs` (the site's creation) was another site's of the same name, removed since: never.
   */
  of(site: string, sinceMs = 0): SitePresenceView {
    const entry = this.entries.get(site);
    if (entry === undefined) return NEVER_SEEN;
    const connected = entry.streams > 0;
    if (connected) return { lastSeenAtMs: Math.max(entry.lastSeenAtMs, this.now()), connected };
    return { lastSeenAtMs: entry.lastSeenAtMs >= sinceMs ? entry.lastSeenAtMs : 0, connected };
  }

  /**
   * Writes the times the table lacks, in one batch; a connected site's counts as now, so the time
   * kept across a crash trails the truth by at most the write interval. A failed write is
   * logged and the times are kept for the next one.
   */
  flush(): Promise<void> {
    const run = this.writing.then(async () => {
      const now = this.now();
      for (const [site, entry] of this.entries) {
        if (entry.streams > 0 && entry.lastSeenAtMs < now) {
          entry.lastSeenAtMs = now;
          this.dirty.add(site);
        }
      }
      if (this.dirty.size === 0) return;
      const batch = new Map<string, number>();
      for (const site of this.dirty) batch.set(site, this.entries.get(site)?.lastSeenAtMs ?? 0);
      this.dirty.clear();
      try {
        await this.opts.table.save(batch);
      } catch (err) {
        for (const site of batch.keys()) this.dirty.add(site);
        this.opts.logger.warn({ err: TributaryError.from(err).message, sites: batch.size }, 'site last-seen times not stored; retrying at the next write');
      }
    });
    this.writing = run;
    return run;
  }

  /** Stops the periodic write and stores every time the table lacks (call before the state store closes). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.flush();
  }

  private entryOf(site: string): Entry {
    let entry = this.entries.get(site);
    if (entry === undefined) {
      entry = { lastSeenAtMs: 0, streams: 0 };
      this.entries.set(site, entry);
    }
    return entry;
  }
}
