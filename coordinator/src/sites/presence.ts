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
  /** The latest time the site was heard from (the stored one included once `stored` is true). */
  lastSeenAtMs: number;
  /** Open WatchTasks streams. */
  streams: number;
  /** Whether `lastSeenAtMs` already takes the table's time into account. */
  stored: boolean;
}

/** A site `SitePresence.ofSites` answers for: its name and creation time. */
export interface SiteRef {
  readonly name: string;
  /** A time before it was another site's of the same name, removed since: never. @default 0 */
  readonly createdAtMs?: number;
}

/**
 * Which sites are connected (an open WatchTasks stream; a site may hold several) and when each
 * was last heard from. Callers report only authenticated, known sites, so a stranger costs
 * nothing here. Memory holds only the sites connected or heard from since the last write: a
 * write stores the dirty ones (at most once per site per write interval, and everything at
 * `close()`) and forgets those that are idle, whose time the table answers from then on.
 * Connected is not stored: after a restart no site is connected until it opens a stream again.
 */
export class SitePresence {
  private readonly entries = new Map<string, Entry>();
  /** Sites whose latest time the table does not have yet. */
  private readonly dirty = new Set<string>();
  /** Sites with an open stream: each write stores them as seen at its time. */
  private readonly connected = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly now: () => number;

  private constructor(private readonly opts: SitePresenceOptions) {
    this.now = opts.now ?? Date.now;
    this.timer = setInterval(() => void this.flush(), opts.writeIntervalMs ?? 30_000);
    this.timer.unref();
  }

  /** Starts the periodic write; stored times are read when asked for. */
  static async open(opts: SitePresenceOptions): Promise<SitePresence> {
    return new SitePresence(opts);
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
    this.connected.add(site);
    this.seen(site);
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      entry.streams -= 1;
      if (entry.streams === 0) this.connected.delete(site);
      this.seen(site);
    };
  }

  /**
   * What ListSites and the dashboard show: a connected site is heard from now. A time before
   * `sinceMs` (the site's creation) was another site's of the same name, removed since: never.
   */
  async of(site: string, sinceMs = 0): Promise<SitePresenceView> {
    const [view] = await this.ofSites([{ name: site, createdAtMs: sinceMs }]);
    return view ?? NEVER_SEEN;
  }

  /** `of` for several sites, with one read of the table for those memory does not know. */
  async ofSites(sites: readonly SiteRef[]): Promise<SitePresenceView[]> {
    const unknown = sites.filter((s) => this.entries.get(s.name)?.stored !== true && !this.connected.has(s.name)).map((s) => s.name);
    const stored = new Map<string, number>();
    if (unknown.length > 0) {
      const times = await this.opts.table.get(unknown);
      unknown.forEach((name, i) => stored.set(name, times[i] ?? 0));
    }
    const now = this.now();
    return sites.map(({ name, createdAtMs = 0 }) => {
      const entry = this.entries.get(name);
      if (entry !== undefined && entry.streams > 0) return { lastSeenAtMs: Math.max(entry.lastSeenAtMs, now), connected: true };
      const lastSeenAtMs = Math.max(entry?.lastSeenAtMs ?? 0, stored.get(name) ?? 0);
      return { lastSeenAtMs: lastSeenAtMs >= createdAtMs ? lastSeenAtMs : 0, connected: false };
    });
  }

  /**
   * Writes the times the table lacks, in one batch, never older than the stored ones; a
   * connected site's counts as now, so the time kept across a crash trails the truth by at
   * most the write interval. Sites written and idle are then forgotten. A failed write is
   * logged and the times are kept for the next one.
   */
  flush(): Promise<void> {
    const run = this.writing.then(async () => {
      const now = this.now();
      for (const site of this.connected) {
        const entry = this.entries.get(site);
        if (entry !== undefined && entry.lastSeenAtMs < now) {
          entry.lastSeenAtMs = now;
          this.dirty.add(site);
        }
      }
      if (this.dirty.size === 0) return;
      const sites = [...this.dirty];
      this.dirty.clear();
      try {
        await this.mergeStored(sites);
        const batch = new Map<string, number>();
        for (const site of sites) batch.set(site, this.entries.get(site)?.lastSeenAtMs ?? 0);
        await this.opts.table.save(batch);
      } catch (err) {
        for (const site of sites) this.dirty.add(site);
        this.opts.logger.warn({ err: TributaryError.from(err).message, sites: sites.length }, 'site last-seen times not stored; retrying at the next write');
        return;
      }
      for (const site of sites) {
        const entry = this.entries.get(site);
        if (entry !== undefined && entry.streams === 0 && !this.dirty.has(site)) this.entries.delete(site);
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

  /** Sites in memory now: those connected or heard from since the last write. */
  get size(): number {
    return this.entries.size;
  }

  /** Takes the stored times of entries that do not have them yet, so a write never goes back in time. */
  private async mergeStored(sites: readonly string[]): Promise<void> {
    const fresh = sites.filter((site) => this.entries.get(site)?.stored === false);
    if (fresh.length === 0) return;
    const times = await this.opts.table.get(fresh);
    fresh.forEach((site, i) => {
      const entry = this.entries.get(site);
      if (entry === undefined) return;
      entry.lastSeenAtMs = Math.max(entry.lastSeenAtMs, times[i] ?? 0);
      entry.stored = true;
    });
  }

  private entryOf(site: string): Entry {
    let entry = this.entries.get(site);
    if (entry === undefined) {
      entry = { lastSeenAtMs: 0, streams: 0, stored: false };
      this.entries.set(site, entry);
    }
    return entry;
  }
}
