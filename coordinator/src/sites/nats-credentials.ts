import { Reason, TributaryError } from '@tributary/proto';
import type { Logger } from 'pino';
import type { AccountUpdate, NatsAuthority, SiteCredentials } from '../nats-auth/authority.js';
import { expectPublicKey } from '../nats-auth/authority-secrets.js';
import type { CoordinatorMetrics } from '../observability/metrics.js';
import type { StateStore } from '../state/index.js';
import { federationsOf } from './membership.js';

/** Characters of an nkey public key: a prefix letter and 55 base32 characters. */
const NKEY_PUBLIC_KEY_LENGTH = 56;

export interface SiteNatsCredentialsOptions {
  readonly authority: NatsAuthority;
  readonly state: StateStore;
  /** Lifetime of an issued credential unless a caller asks for another. */
  readonly ttlMs: number;
  readonly metrics: CoordinatorMetrics;
  readonly logger: Logger;
}

/**
 * Sites' NATS users: a JWT for a key the site holds, scoped to the federations it is a member
 * of, issued only while the site is approved; revoking a site drops its live connections.
 */
export class SiteNatsCredentials {
  constructor(private readonly opts: SiteNatsCredentialsOptions) {}

  /**
   * A user JWT for `site`'s nkey `userPublicKey`. The site record is read again here, so a
   * revocation that landed after the call was authenticated still refuses it.
   */
  async issue(req: { site: string; userPublicKey: string; ttlMs?: number }): Promise<SiteCredentials> {
    try {
      const userPublicKey = userKey(req.userPublicKey);
      const site = await this.opts.state.getSite(req.site);
      if (site === undefined) throw TributaryError.notFound(`site "${req.site}" does not exist`);
      if (site.status !== 'APPROVED') throw TributaryError.of(Reason.KEY_REVOKED, `site "${site.name}" is revoked`);
      const credentials = await this.opts.authority.issueSiteCredentials({
        site: site.name,
        federations: federationsOf(site),
        userPublicKey,
        ttlMs: req.ttlMs ?? this.opts.ttlMs,
      });
      this.opts.metrics.siteCredentials.inc({ outcome: 'ISSUED' });
      this.opts.logger.debug(
        { site: site.name, userPublicKey, federations: credentials.federations, expiresAtMs: credentials.expiresAtMs },
        'site NATS credentials issued',
      );
      return credentials;
    } catch (err) {
      const e = TributaryError.from(err);
      this.opts.metrics.siteCredentials.inc({ outcome: e.reason });
      this.opts.logger.warn({ site: req.site, reason: e.reason }, `site NATS credentials refused: ${e.message}`);
      throw e;
    }
  }

  /** Revokes every unexpired NATS user of `site`: the servers close its connections. */
  async revoke(site: string): Promise<AccountUpdate> {
    const update = await this.opts.authority.revokeSite(site);
    this.opts.logger.warn({ site, users: update.revoked.length, pushedTo: update.pushed?.server }, 'site NATS users revoked');
    return update;
  }
}

/** A NATS user public key (`U...`), else INVALID_ARGUMENT. */
function userKey(key: string): string {
  if (typeof key !== 'string' || key.length !== NKEY_PUBLIC_KEY_LENGTH) {
    throw TributaryError.of(Reason.INVALID_ARGUMENT, `user_public_key must be a NATS user public nkey (U and 55 base32 characters)`);
  }
  return expectPublicKey(key, 'U', 'user_public_key', (why) => TributaryError.of(Reason.INVALID_ARGUMENT, why));
}
