import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, type User } from '@nats-io/jwt';
import { createUser } from '@nats-io/nkeys';
import { MAX_SITE_CREDENTIAL_TTL_MS, NatsServer } from '@tributary/coordinator';
import { CHUNK_INDEX_HEADER, STREAM_METRICS, STREAM_PAYLOADS, STREAM_UPDATES, subjects } from '@tributary/proto';
import { connect, credsAuthenticator, headers } from 'nats';
import { startOperatorNats, type OperatorNats } from '../helpers/operator-nats.js';

const RUN = 'run1';
const UPDATE_ID = 'cd'.repeat(16);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe.skipIf(!NatsServer.available())('site credentials (operator mode)', () => {
  let env: OperatorNats;

  beforeAll(async () => {
    env = await startOperatorNats();
  });

  afterAll(async () => {
    await env?.stop();
  });

  it('let a site publish its manifest, payload chunks and metric batches with acks', async () => {
    const site = await env.connectSite(await env.authority.issueSiteCredentials({ site: 'clinic-p', federations: ['churn'] }));
    const js = site.nc.jetstream();
    const manifest = await js.publish(subjects.update('churn', RUN, 1, 'clinic-p'), bytes('manifest'), { msgID: UPDATE_ID });
    expect(manifest.stream).toBe(STREAM_UPDATES);
    for (let i = 0; i < 3; i++) {
      const h = headers();
      h.set(CHUNK_INDEX_HEADER, String(i));
      const chunk = await js.publish(subjects.sitePayload('churn', 'clinic-p', UPDATE_ID), bytes(`chunk ${i}`), { msgID: `clinic-p.${UPDATE_ID}.${i}`, headers: h });
      expect(chunk.stream).toBe(STREAM_PAYLOADS);
    }
    const metrics = await js.publish(subjects.metrics('churn', RUN, 'clinic-p'), bytes('metrics'));
    expect(metrics.stream).toBe(STREAM_METRICS);
    const chunks = await env.jsm.streams.info(STREAM_PAYLOADS, { subjects_filter: subjects.sitePayload('churn', 'clinic-p', UPDATE_ID) });
    expect(chunks.state.messages).toBe(3);
    expect(site.refusals).toEqual([]);
  });

  it('let a site hear its own verdict from the coordinator', async () => {
    const site = await env.connectSite(await env.authority.issueSiteCredentials({ site: 'clinic-v', federations: ['churn'] }));
    const sub = site.nc.subscribe(subjects.verdict('churn', 'clinic-v'), { max: 1 });
    await site.nc.flush();
    env.coordinator.publish(subjects.verdict('churn', 'clinic-v'), bytes('ACCEPTED'));
    for await (const m of sub) expect(new TextDecoder().decode(m.data)).toBe('ACCEPTED');
    expect(site.refusals).toEqual([]);
  });

  it('let a member of two federations publish in both', async () => {
    const site = await env.connectSite(await env.authority.issueSiteCredentials({ site: 'clinic-m', federations: ['churn', 'fraud'] }));
    const js = site.nc.jetstream();
    for (const federation of ['churn', 'fraud']) {
      expect((await js.publish(subjects.update(federation, RUN, 1, 'clinic-m'), bytes('m'))).stream).toBe(STREAM_UPDATES);
    }
  });

  it('give a site that brings its own key a JWT only, which works with the site’s seed', async () => {
    const key = createUser();
    const credentials = await env.authority.issueSiteCredentials({ site: 'clinic-k', federations: ['churn'], userPublicKey: key.getPublicKey() });
    expect(credentials.userPublicKey).toBe(key.getPublicKey());
    expect(credentials.seed).toBeUndefined();
    expect(credentials.creds).toBeUndefined();
    const site = await env.connectSite(credentials, { seed: new TextDecoder().decode(key.getSeed()) });
    expect((await site.nc.jetstream().publish(subjects.update('churn', RUN, 1, 'clinic-k'), bytes('m'))).stream).toBe(STREAM_UPDATES);
  });

  it('carry exactly the site’s permissions and expiry, signed by the account signing key', async () => {
    const before = Date.now();
    const credentials = await env.authority.issueSiteCredentials({ site: 'clinic-j', federations: ['fraud', 'churn', 'churn'], ttlMs: 600_000 });
    const claims = decode<User>(credentials.jwt);
    expect(claims.sub).toBe(credentials.userPublicKey);
    expect(claims.name).toBe('clinic-j');
    expect(claims.iss).not.toBe(env.authority.accountPublicKey);
    expect(claims.nats.issuer_account).toBe(env.authority.accountPublicKey);
    expect(claims.nats.pub).toEqual({
      allow: [
        'trib.churn.update.*.*.clinic-j',
        'trib.churn.payload.clinic-j.*',
        'trib.churn.metrics.*.clinic-j',
        'trib.fraud.update.*.*.clinic-j',
        'trib.fraud.payload.clinic-j.*',
        'trib.fraud.metrics.*.clinic-j',
      ],
    });
    expect(claims.nats.sub).toEqual({ allow: ['_INBOX_clinic-j.>', 'trib.churn.verdict.clinic-j', 'trib.fraud.verdict.clinic-j'] });
    expect(claims.nats.resp).toBeUndefined();
    expect(claims.nats.bearer_token).toBeUndefined();
    expect(claims.nats.allowed_connection_types).toEqual(['STANDARD']);
    expect(credentials.federations).toEqual(['churn', 'fraud']);
    expect(claims.exp).toBe(credentials.expiresAtMs / 1000);
    expect(credentials.expiresAtMs).toBeGreaterThan(before + 599_000);
    expect(credentials.expiresAtMs).toBeLessThanOrEqual(Date.now() + 600_000);
  });

  it('expire after one hour by default', async () => {
    const credentials = await env.authority.issueSiteCredentials({ site: 'clinic-d', federations: ['churn'] });
    expect(credentials.expiresAtMs - credentials.issuedAtMs).toBeGreaterThan(3_599_000);
    expect(credentials.expiresAtMs - credentials.issuedAtMs).toBeLessThanOrEqual(3_600_000);
  });

  it('bring no acks to a site that connects without its inbox prefix', async () => {
    const credentials = await env.authority.issueSiteCredentials({ site: 'clinic-i', federations: ['churn'] });
    const nc = await connect({ servers: [env.nats.url], authenticator: credsAuthenticator(bytes(credentials.creds ?? '')) });
    try {
      await expect(nc.jetstream().publish(subjects.update('churn', RUN, 1, 'clinic-i'), bytes('m'), { timeout: 2000 })).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
    } finally {
      await nc.close();
    }
  });

  it('are refused for names that are not valid, and for lifetimes out of bounds', async () => {
    const issue = env.authority.issueSiteCredentials.bind(env.authority);
    await expect(issue({ site: 'clinic.a', federations: ['churn'] })).rejects.toMatchObject({ reason: 'INVALID_NAME' });
    await expect(issue({ site: 'clinic-a', federations: ['churn', '>'] })).rejects.toMatchObject({ reason: 'INVALID_NAME' });
    await expect(issue({ site: 'clinic-a', federations: ['churn'], ttlMs: 999 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(issue({ site: 'clinic-a', federations: ['churn'], ttlMs: MAX_SITE_CREDENTIAL_TTL_MS + 1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(issue({ site: 'clinic-a', federations: ['churn'], userPublicKey: env.authority.accountPublicKey })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
