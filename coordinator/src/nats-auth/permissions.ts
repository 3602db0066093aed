import type { Permissions } from '@nats-io/jwt';
import { subjects } from '@tributary/proto';

/**
 * What a site's NATS user may do, and nothing else (an allow list denies all it does not name):
 * - publish its own update manifests, payload chunks and metric batches, in each of its
 *   federations (every such subject names the site);
 * - subscribe to its own inbox prefix, where JetStream publish acks arrive, and to its own
 *   verdict subject in each federation.
 * No `$JS.API`: an acked `js.publish` needs none, so a site can neither read a stream back nor
 * create, delete or purge anything.
 */
export function sitePermissions(site: string, federations: readonly string[]): Permissions {
  return {
    pub: { allow: federations.flatMap((f) => subjects.sitePublishing(f, site)) },
    sub: { allow: [`${subjects.inboxPrefix(site)}.>`, ...federations.map((f) => subjects.verdict(f, site))] },
  };
}

/**
 * What the coordinator's NATS user may do: manage streams and consumers, pull and ack, publish
 * verdicts, and hear replies on the default inbox (which no site may subscribe to). It publishes
 * nothing a site publishes, so a stolen coordinator connection cannot forge a site's update
 * through NATS either.
 */
export function coordinatorPermissions(): Permissions {
  return {
    pub: { allow: ['$JS.API.>', '$JS.ACK.>', subjects.verdictWildcard] },
    sub: { allow: ['_INBOX.>'] },
  };
}
