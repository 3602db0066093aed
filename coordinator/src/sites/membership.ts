import type { SiteRecord, StateStore } from '../state/index.js';

/** True when the site is a member of the federation (whatever its key's status). */
export function isMember(site: Pick<SiteRecord, 'federations'>, federation: string): boolean {
  return site.federations.includes(federation);
}

/**
 * The member sites of a federation, sorted by name; `approvedOnly` leaves out revoked ones
 * (what a round or an evaluation samples from).
 */
export async function membersOf(state: StateStore, federation: string, opts: { approvedOnly?: boolean } = {}): Promise<SiteRecord[]> {
  const sites = await state.listSites();
  return sites
    .filter((s) => isMember(s, federation) && (!opts.approvedOnly || s.status === 'APPROVED'))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The federations a site is a member of, sorted: what its NATS user may publish in. */
export function federationsOf(site: Pick<SiteRecord, 'federations'>): string[] {
  return [...new Set(site.federations)].sort();
}
