import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer } from '@tributary/coordinator';
import { STREAM_PAYLOADS, STREAM_UPDATES, subjects } from '@tributary/proto';
import { INGEST_CONSUMER, startOperatorNats, type OperatorNats, type SiteConnection } from '../helpers/operator-nats.js';

const UPDATE_ID = 'ef'.repeat(16);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe.skipIf(!NatsServer.available())('the coordinator’s NATS user (operator mode)', () => {
  let env: OperatorNats;
  let site: SiteConnection;

  beforeAll(async () => {
    env = await startOperatorNats();
    site = await env.connectSite(await env.authority.issueSiteCredentials({ site: 'clinic-c', federations: ['churn'] }));
    const js = site.nc.jetstream();
    await js.publish(subjects.update('churn', 'run1', 1, 'clinic-c'), bytes('manifest'), { msgID: UPDATE_ID });
    for (let i = 0; i < 2; i++) await js.publish(subjects.sitePayload('churn', 'clinic-c', UPDATE_ID), bytes(`chunk ${i}`));
  });

  afterAll(async () => {
    await env?.stop();
  });

  it('pulls and acks manifests from its durable consumer', async () => {
    const consumer = await env.coordinator.jetstream().consumers.get(STREAM_UPDATES, INGEST_CONSUMER);
    const m = await consumer.next({ expires: 2000 });
    expect(m?.subject).toBe(subjects.update('churn', 'run1', 1, 'clinic-c'));
    await m?.ackAck();
    expect((await env.jsm.consumers.info(STREAM_UPDATES, INGEST_CONSUMER)).num_ack_pending).toBe(0);
  });

  it('reads one update’s chunks with an ordered consumer, then purges them', async () => {
    const subject = subjects.sitePayload('churn', 'clinic-c', UPDATE_ID);
    const consumer = await env.coordinator.jetstream().consumers.get(STREAM_PAYLOADS, { filterSubjects: subject });
    const chunks: string[] = [];
    const messages = await consumer.consume({ max_messages: 8 });
    for await (const m of messages) {
      chunks.push(new TextDecoder().decode(m.data));
      if (m.info.pending === 0) break;
    }
    expect(chunks).toEqual(['chunk 0', 'chunk 1']);
    expect((await env.jsm.streams.purge(STREAM_PAYLOADS, { filter: subject })).purged).toBe(2);
  });

  it('publishes a site’s verdict', async () => {
    const sub = site.nc.subscribe(subjects.verdict('churn', 'clinic-c'), { max: 1 });
    await site.nc.flush();
    env.coordinator.publish(subjects.verdict('churn', 'clinic-c'), bytes('REFUSED'));
    for await (const m of sub) expect(new TextDecoder().decode(m.data)).toBe('REFUSED');
  });

  it('cannot publish as a site', async () => {
    await expect(env.coordinator.jetstream().publish(subjects.update('churn', 'run1', 2, 'clinic-c'), bytes('forged'), { timeout: 2000 })).rejects.toMatchObject({
      code: 'PERMISSIONS_VIOLATION',
    });
  });
});
