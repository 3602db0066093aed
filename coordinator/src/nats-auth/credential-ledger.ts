/** One NATS user credential issued to a site, or to an aggregation worker. */
export interface IssuedSiteCredential {
  /** Who holds it: a site's name, or `aggregatorHolder(worker)` for an aggregation worker's user. */
  readonly site: string;
  /** The user's nkey public key (`U...`): what a revocation names. */
  readonly userPublicKey: string;
  readonly federations: readonly string[];
  readonly issuedAtMs: number;
  /** The JWT's `exp`, in milliseconds. */
  readonly expiresAtMs: number;
}

/**
 * The holder under which an aggregation worker's NATS users are recorded. A name never holds a
 * `:`, so a worker's users and a site's of the same name stay apart.
 */
export function aggregatorHolder(worker: string): string {
  return `aggregator:${worker}`;
}

/**
 * The record of credentials issued to sites and aggregation workers, so that revoking a site (or
 * disabling a worker's principal) revokes every key it still holds. The coordinator's state store implements it; `MemorySiteCredentialLedger` serves tests
 * and single runs.
 *
 * LevelDB shape: key `<site>\0<expiresAtMs, 16 digits>\0<userPublicKey>`, value the record as
 * JSON; `unexpired` is a range read from `<site>\0<nowMs, 16 digits>`, `forgetExpired` a scan
 * (or a second index by expiry).
 */
export interface SiteCredentialLedger {
  record(credential: IssuedSiteCredential): Promise<void>;
  /** The credentials of `site` that have not expired at `nowMs`. */
  unexpired(site: string, nowMs: number): Promise<IssuedSiteCredential[]>;
  /** Forgets credentials expired at `nowMs` (a revocation no longer needs them); returns how many. */
  forgetExpired(nowMs: number): Promise<number>;
}

export class MemorySiteCredentialLedger implements SiteCredentialLedger {
  private readonly bySite = new Map<string, IssuedSiteCredential[]>();

  async record(credential: IssuedSiteCredential): Promise<void> {
    const list = this.bySite.get(credential.site) ?? [];
    list.push({ ...credential, federations: [...credential.federations] });
    this.bySite.set(credential.site, list);
  }

  async unexpired(site: string, nowMs: number): Promise<IssuedSiteCredential[]> {
    return (this.bySite.get(site) ?? []).filter((c) => c.expiresAtMs > nowMs);
  }

  async forgetExpired(nowMs: number): Promise<number> {
    let forgotten = 0;
    for (const [site, list] of this.bySite) {
      const live = list.filter((c) => c.expiresAtMs > nowMs);
      forgotten += list.length - live.length;
      if (live.length === 0) this.bySite.delete(site);
      else this.bySite.set(site, live);
    }
    return forgotten;
  }
}
