import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNatsAuthority, MemorySiteCredentialLedger, NatsAuthority, NatsServer } from '@tributary/coordinator';
import { STREAM_UPDATES, subjects } from '@tributary/proto';
import { createUser } from '@nats-io/nkeys';
import { connect, credsAuthenticator } from 'nats';
import { startOperatorNats, type OperatorNats } from '../helpers/operator-nats.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe.skipIf(!NatsServer.available())('revoking and expiring site credentials (operator mode)', () => {
  let env: OperatorNats;

  beforeAll(async () => {
    env = await startOperatorNats();
  });

  afterAll(async () => {
    await env?.stop();
  });

  it('drops a revoked site’s live connection within 5 s and refuses its creds, while another site carries on', async () => {
    const revokedCreds = await env.authority.issueSiteCredentials({ site: 'clinic-r', federations: ['churn'] });
    const revoked = await env.connectSite(revokedCreds);
    const other = await env.connectSite(await env.authority.issueSiteCredentials({ site: 'clinic-o', federations: ['churn'] }));
    const startedMs = Date.now();
    const update = await env.authority.revokeSite('clinic-r');
    expect(update.revoked).toEqual([revokedCreds.userPublicKey]);
    expect(update.pushed?.account).toBe(env.authority.accountPublicKey);
    expect((await revoked.dropped(5000)) - startedMs).toBeLessThan(5000);
    await expect(env.connectSite(revokedCreds, { reconnect: false })).rejects.toMatchObject({ code: 'AUTHORIZATION_VIOLATION' });
    expect((await other.nc.jetstream().publish(subjects.update('churn', 'run1', 1, 'clinic-o'), bytes('m'))).stream).toBe(STREAM_UPDATES);
    expect(other.nc.isClosed()).toBe(false);
  });

  it('revokes every key a site still holds', async () => {
    const first = await env.authority.issueSiteCredentials({ site: 'clinic-t', federations: ['churn'] });
    const renewed = await env.authority.issueSiteCredentials({ site: 'clinic-t', federations: ['churn'] });
    const connections = [await env.connectSite(first), await env.connectSite(renewed)];
    const update = await env.authority.revokeSite('clinic-t');
    expect([...update.revoked].sort()).toEqual([first.userPublicKey, renewed.userPublicKey].sort());
    await Promise.all(connections.map((c) => c.dropped(5000)));
    expect(Object.keys(env.authority.revocations)).toEqual(expect.arrayContaining([first.userPublicKey, renewed.userPublicKey]));
  });

  it('revokes every key an aggregation worker holds, and no site’s of the same name', async () => {
    const site = await env.authority.issueSiteCredentials({ site: 'clinic-w', federations: ['churn'] });
    const workerKeys = [createUser().getPublicKey(), createUser().getPublicKey()];
    for (const userPublicKey of workerKeys) await env.authority.issueAggregatorCredentials({ worker: 'clinic-w', userPublicKey });
    const siteConnection = await env.connectSite(site);
    const update = await env.authority.revokeAggregator('clinic-w');
    expect([...update.revoked].sort()).toEqual([...workerKeys].sort());
    expect(env.authority.revocations).not.toHaveProperty(site.userPublicKey);
    expect(siteConnection.nc.isClosed()).toBe(false);
    expect((await env.authority.revokeSite('clinic-w')).revoked).toEqual([site.userPublicKey]);
  });

  it('changes nothing when the site holds no live key', async () => {
    const accountJwt = env.authority.accountJwt;
    const update = await env.authority.revokeSite('clinic-never');
    expect(update).toEqual({ revoked: [], accountJwt });
  });

  it('closes a connection whose credential expires, and refuses the expired JWT', async () => {
    const credentials = await env.authority.issueSiteCredentials({ site: 'clinic-e', federations: ['churn'], ttlMs: 2000 });
    const site = await env.connectSite(credentials);
    const droppedAt = await site.dropped(5000);
    expect(droppedAt).toBeGreaterThanOrEqual(credentials.expiresAtMs - 100);
    expect(site.errors).toContain('AUTHENTICATION_EXPIRED');
    // The server takes `exp` as the last valid second: a JWT is refused from the second after it.
    await new Promise((r) => setTimeout(r, Math.max(0, credentials.expiresAtMs + 1000 - Date.now())));
    await expect(env.connectSite(credentials, { reconnect: false })).rejects.toMatchObject({ code: 'AUTHORIZATION_VIOLATION' });
  });
});

describe.skipIf(!NatsServer.available())('a revocation saved by the authority', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-authority-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('still holds after nats-server restarts', async () => {
    await createNatsAuthority({ dir });
    let nats = await NatsServer.start({ operator: { authorityDir: dir } });
    const authority = await NatsAuthority.load({ dir, servers: [nats.url] });
    const credentials = await authority.issueSiteCredentials({ site: 'clinic-s', federations: ['churn'] });
    await authority.revokeSite('clinic-s');
    await authority.close();
    await nats.stop();

    nats = await NatsServer.start({ operator: { authorityDir: dir } });
    try {
      const creds = credsAuthenticator(bytes(credentials.creds ?? ''));
      await expect(connect({ servers: [nats.url], authenticator: creds, inboxPrefix: credentials.inboxPrefix, reconnect: false })).rejects.toMatchObject({
        code: 'AUTHORIZATION_VIOLATION',
      });
      const reloaded = await NatsAuthority.load({ dir });
      expect(reloaded.revocations[credentials.userPublicKey]).toBeGreaterThan(0);
      const fresh = await reloaded.issueSiteCredentials({ site: 'clinic-s', federations: ['churn'] });
      const nc = await connect({ servers: [nats.url], authenticator: credsAuthenticator(bytes(fresh.creds ?? '')), inboxPrefix: fresh.inboxPrefix });
      await nc.close();
    } finally {
      await nats.stop();
    }
  });
});

describe('the site credential ledger', () => {
  it('lists a site’s unexpired credentials and forgets expired ones', async () => {
    const ledger = new MemorySiteCredentialLedger();
    const issued = (userPublicKey: string, site: string, expiresAtMs: number) => ({ site, userPublicKey, federations: ['churn'], issuedAtMs: 0, expiresAtMs });
    await ledger.record(issued('U1', 'a', 1000));
    await ledger.record(issued('U2', 'a', 3000));
    await ledger.record(issued('U3', 'b', 3000));
    expect((await ledger.unexpired('a', 2000)).map((c) => c.userPublicKey)).toEqual(['U2']);
    expect(await ledger.unexpired('c', 0)).toEqual([]);
    expect(await ledger.forgetExpired(2000)).toBe(1);
    expect(await ledger.forgetExpired(2000)).toBe(0);
    expect((await ledger.unexpired('a', 0)).map((c) => c.userPublicKey)).toEqual(['U2']);
  });
});
