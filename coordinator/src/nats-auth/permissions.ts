import type { Permissions } from '@nats-io/jwt';
import { STREAM_PARTIALS, STREAM_PAYLOADS, aggregationSubjects, subjects } from '@tributary/proto';

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
    pub: { allow: ['$JS.API.>', '$JS.ACK.>', subjects.verdictWildcard, aggregationSubjects.job, aggregationSubjects.collectWildcard] },
    sub: { allow: ['_INBOX.>'] },
  };
}

/**
 * What an aggregation worker's NATS user may do, and nothing else:
 * - read the payload stream: direct gets, and ordered consumers it creates, pulls from and
 *   deletes. A consumer may be created only in the form that names its filter
 *   (`$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>`, nats-server 2.9 and later, which refuses
 *   a body whose filter differs), and only filtered to one update's payload subject: no consumer
 *   over the whole stream, none on another stream, no `CONSUMER.DURABLE.CREATE`, and it manages
 *   nothing else;
 * - take fold jobs in the queue group and hear its own partial requests and inbox;
 * - answer the requests it received (one response each), and publish its own partial sums.
 * It cannot publish as a site, read manifests or metrics, or see another worker's requests.
 */
export function aggregatorPermissions(worker: string): Permissions {
  const payloads = STREAM_PAYLOADS;
  return {
    pub: {
      allow: [
        '$JS.API.INFO',
        `$JS.API.STREAM.INFO.${payloads}`,
        `$JS.API.DIRECT.GET.${payloads}`,
        `$JS.API.DIRECT.GET.${payloads}.>`,
        `$JS.API.CONSUMER.CREATE.${payloads}.*.${subjects.payloadWildcard}`,
        `$JS.API.CONSUMER.INFO.${payloads}.*`,
        `$JS.API.CONSUMER.DELETE.${payloads}.*`,
        `$JS.API.CONSUMER.MSG.NEXT.${payloads}.*`,
        `$JS.FC.${payloads}.>`,
        `$JS.API.STREAM.INFO.${STREAM_PARTIALS}`,
        aggregationSubjects.partialsOf(worker),
      ],
    },
    sub: { allow: [`${aggregationSubjects.inboxPrefix(worker)}.>`, aggregationSubjects.job, aggregationSubjects.collect(worker)] },
    resp: { max: 1, ttl: 0 },
  };
}
