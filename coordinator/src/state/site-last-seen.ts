import type { TributaryError } from '@tributary/proto';
import type { Sublevel } from './level-layout.js';

/** When each site was last heard from, kept across restarts (see SitePresence). */
export interface SiteLastSeenTable {
  /** These sites' stored last-seen times, ms since the epoch, in order (undefined: none stored). */
  get(sites: readonly string[]): Promise<(number | undefined)[]>;
  /** Stores these sites' last-seen times together. */
  save(lastSeen: ReadonlyMap<string, number>): Promise<void>;
}

/**
 * The last-seen table on the state LevelDB: site name -> ms. Its own sublevel, apart from the
 * site records, so a presence write never races a change of a site's record. A store fenced by
 * a failed write or closed takes no more of these writes (they are only a hint, dropped).
 */
export class LevelSiteLastSeenTable implements SiteLastSeenTable {
  constructor(
    private readonly entries: Sublevel<number>,
    private readonly writable: () => TributaryError | undefined,
  ) {}

  async get(sites: readonly string[]): Promise<(number | undefined)[]> {
    return sites.length === 0 ? [] : this.entries.getMany([...sites]);
  }

  async save(lastSeen: ReadonlyMap<string, number>): Promise<void> {
    const refusal = this.writable();
    if (refusal !== undefined) throw refusal;
    if (lastSeen.size === 0) return;
    await this.entries.batch([...lastSeen].map(([key, value]) => ({ type: 'put' as const, key, value })));
  }
}

/** The last-seen table in memory, for a coordinator or a test without a data directory. */
export class MemorySiteLastSeenTable implements SiteLastSeenTable {
  readonly stored = new Map<string, number>();
  /** How many save() calls wrote something: what the write throttle is measured by. */
  writes = 0;

  async get(sites: readonly string[]): Promise<(number | undefined)[]> {
    return sites.map((site) => this.stored.get(site));
  }

  async save(lastSeen: ReadonlyMap<string, number>): Promise<void> {
    if (lastSeen.size === 0) return;
    this.writes += 1;
    for (const [site, ms] of lastSeen) this.stored.set(site, ms);
  }
}
