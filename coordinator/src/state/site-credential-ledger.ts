import { Reason, TributaryError } from '@tributary/proto';
import type { IssuedSiteCredential, SiteCredentialLedger } from '../nats-auth/credential-ledger.js';
import { AFTER_SEP, SEP, prefixRange, type Sublevel } from './level-layout.js';

const EXPIRY_DIGITS = 16; // Number.MAX_SAFE_INTEGER

/**
 * The NATS credentials issued to sites, on the coordinator's state LevelDB, so a revocation after
 * a restart still reaches every key a site holds. Key `<site>\0<expiresAtMs>\0<userPublicKey>`:
 * a site's unexpired credentials are one range read. Bounded: at most `maxPerSite` unexpired
 * credentials per site (an SDK holds one or two at a time); a site asking for more is refused
 * RATE_LIMITED rather than having older, still valid keys forgotten (and so unrevocable).
 */
export class LevelSiteCredentialLedger implements SiteCredentialLedger {
  // Count-then-put runs one at a time, so the bound holds under concurrent renewals.
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly entries: Sublevel<IssuedSiteCredential>,
    private readonly maxPerSite: number,
  ) {}

  record(credential: IssuedSiteCredential): Promise<void> {
    const run = this.tail.catch(() => undefined).then(async () => {
      const now = Date.now();
      const expired = await this.entries.keys({ gt: prefixRange(credential.site).gt, lte: unexpiredFrom(credential.site, now) }).all();
      if (expired.length > 0) await this.entries.batch(expired.map((key) => ({ type: 'del' as const, key })));
      const live = await this.entries.keys(unexpiredRange(credential.site, now)).all();
      if (live.length >= this.maxPerSite) {
        throw TributaryError.of(
          Reason.RATE_LIMITED,
          `site "${credential.site}" already holds ${live.length} unexpired NATS credentials (at most ${this.maxPerSite}); try again when one expires`,
        );
      }
      await this.entries.put(keyOf(credential), { ...credential, federations: [...credential.federations] });
    });
    this.tail = run;
    return run;
  }

  unexpired(site: string, nowMs: number): Promise<IssuedSiteCredential[]> {
    return this.entries.values(unexpiredRange(site, nowMs)).all();
  }

  async forgetExpired(nowMs: number): Promise<number> {
    const expired: string[] = [];
    for await (const [key, credential] of this.entries.iterator()) {
      if (credential.expiresAtMs <= nowMs) expired.push(key);
    }
    if (expired.length > 0) await this.entries.batch(expired.map((key) => ({ type: 'del' as const, key })));
    return expired.length;
  }
}

function keyOf(c: IssuedSiteCredential): string {
  return `${c.site}${SEP}${expiry(c.expiresAtMs)}${SEP}${c.userPublicKey}`;
}

function expiry(ms: number): string {
  return String(Math.max(0, Math.floor(ms))).padStart(EXPIRY_DIGITS, '0');
}

/** Keys above this expire after `nowMs`. */
function unexpiredFrom(site: string, nowMs: number): string {
  return `${site}${SEP}${expiry(nowMs)}${AFTER_SEP}`;
}

function unexpiredRange(site: string, nowMs: number): { gt: string; lt: string } {
  return { gt: unexpiredFrom(site, nowMs), lt: prefixRange(site).lt };
}
