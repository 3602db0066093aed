import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer } from '@tributary/coordinator';
import { CHUNK_INDEX_HEADER, STREAM_UPDATES, subjects } from '@tributary/proto';
import { headers } from 'nats';
import { DATA_PLANE_STREAMS, INGEST_CONSUMER, startOperatorNats, type OperatorNats, type SiteConnection } from '../helpers/operator-nats.js';

const FED_A = 'fed-a';
const FED_B = 'fed-b';
const SITE_A = 'clinic-a';
const SITE_B = 'clinic-b';
const RUN = 'run1';
const UPDATE_ID = 'ab'.repeat(16);
const data = new TextEncoder().encode('stolen?');

// Site B, with nothing but its own credentials, attacks site A's traffic and the coordinator's
// streams. Every attempt must be refused by the server itself.
describe.skipIf(!NatsServer.available())('NATS walls around a site (operator mode)', () => {
  let env: OperatorNats;
  let siteA: SiteConnection;
  let siteB: SiteConnection;
  let before: Record<string, number>;

  beforeAll(async () => {
    env = await startOperatorNats();
    siteA = await env.connectSite(await env.authority.issueSiteCredentials({ site: SITE_A, federations: [FED_A] }));
    siteB = await env.connectSite(await env.authority.issueSiteCredentials({ site: SITE_B, federations: [FED_B] }));
    // Something worth stealing in every stream.
    const js = siteA.nc.jetstream();
    await js.publish(subjects.update(FED_A, RUN, 1, SITE_A), data, { msgID: UPDATE_ID });
    const h = headers();
    h.set(CHUNK_INDEX_HEADER, '0');
    await js.publish(subjects.sitePayload(FED_A, SITE_A, UPDATE_ID), data, { msgID: `${SITE_A}.${UPDATE_ID}.0`, headers: h });
    await js.publish(subjects.metrics(FED_A, RUN, SITE_A), data);
    before = await env.streamCounts();
  });

  afterAll(async () => {
    await env?.stop();
  });

  describe('subscriptions to anything but its own inbox and verdicts', () => {
    const refused = [
      '>',
      'trib.>',
      `trib.${FED_A}.>`,
      `trib.${FED_B}.>`,
      subjects.updateWildcard,
      subjects.payloadWildcard,
      subjects.verdict(FED_A, SITE_A),
      `trib.${FED_B}.verdict.*`,
      '_INBOX.>',
      `${subjects.inboxPrefix(SITE_A)}.>`,
      '$JS.>',
      '$JS.API.>',
    ];
    it.each(refused)('refuses subscribing to %s', async (subject) => {
      siteB.nc.subscribe(subject);
      await siteB.refused('subscription', subject);
    });
  });

  describe('the JetStream API', () => {
    const perStream = DATA_PLANE_STREAMS.flatMap((s) => [
      `$JS.API.STREAM.MSG.GET.${s}`,
      `$JS.API.DIRECT.GET.${s}`,
      `$JS.API.STREAM.INFO.${s}`,
      `$JS.API.STREAM.PURGE.${s}`,
      `$JS.API.STREAM.DELETE.${s}`,
      `$JS.API.STREAM.UPDATE.${s}`,
      `$JS.API.CONSUMER.CREATE.${s}`,
      `$JS.API.CONSUMER.DURABLE.CREATE.${s}.thief`,
      `$JS.API.CONSUMER.LIST.${s}`,
    ]);
    const refused = [
      '$JS.API.INFO',
      '$JS.API.STREAM.LIST',
      '$JS.API.STREAM.NAMES',
      '$JS.API.STREAM.CREATE.THIEF',
      `$JS.API.CONSUMER.INFO.${STREAM_UPDATES}.${INGEST_CONSUMER}`,
      `$JS.API.CONSUMER.DELETE.${STREAM_UPDATES}.${INGEST_CONSUMER}`,
      `$JS.API.CONSUMER.MSG.NEXT.${STREAM_UPDATES}.${INGEST_CONSUMER}`,
      ...perStream,
    ];
    it.each(refused)('refuses a request to %s', async (subject) => {
      const body = new TextEncoder().encode(subject.includes('MSG.GET') ? '{"seq":1}' : '{}');
      await expect(siteB.nc.request(subject, body, { timeout: 2000 })).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
    });

    it('refuses acking the coordinator consumer’s messages', async () => {
      const subject = `$JS.ACK.${STREAM_UPDATES}.${INGEST_CONSUMER}.1.1.1.1.0`;
      siteB.nc.publish(subject, new TextEncoder().encode('+ACK'));
      await siteB.refused('publish', subject);
    });
  });

  describe('publishing as someone else', () => {
    const refused = [
      ['another site’s manifest', subjects.update(FED_A, RUN, 1, SITE_A)],
      ['a manifest naming another site in its own federation', subjects.update(FED_B, RUN, 1, SITE_A)],
      ['its own manifest in a federation it is not a member of', subjects.update(FED_A, RUN, 1, SITE_B)],
      ['another site’s payload chunk', subjects.sitePayload(FED_A, SITE_A, UPDATE_ID)],
      ['a payload chunk that names no site', `trib.${FED_B}.payload.${UPDATE_ID}`],
      ['another site’s metric batch', subjects.metrics(FED_A, RUN, SITE_A)],
      ['its own metric batch in a federation it is not a member of', subjects.metrics(FED_A, RUN, SITE_B)],
    ] as const;
    it.each(refused)('refuses publishing %s', async (_what, subject) => {
      await expect(siteB.nc.jetstream().publish(subject, data, { timeout: 2000 })).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
    });

    const verdicts = [
      ['another site’s verdict', subjects.verdict(FED_A, SITE_A)],
      ['its own verdict', subjects.verdict(FED_B, SITE_B)],
      ['into another site’s inbox', `${subjects.inboxPrefix(SITE_A)}.x.y`],
      ['into the coordinator’s inbox', '_INBOX.x.y'],
    ] as const;
    it.each(verdicts)('refuses publishing %s', async (_what, subject) => {
      siteB.nc.publish(subject, data);
      await siteB.refused('publish', subject);
    });
  });

  it('left every stream and the coordinator’s consumer as they were', async () => {
    // Refusals are asynchronous: flush so every attempt has reached the server.
    await siteB.nc.flush();
    expect(await env.streamCounts()).toEqual(before);
    const consumer = await env.jsm.consumers.info(STREAM_UPDATES, INGEST_CONSUMER);
    expect(consumer.num_pending).toBe(before[STREAM_UPDATES]);
    expect(siteB.nc.isClosed()).toBe(false);
  });
});
