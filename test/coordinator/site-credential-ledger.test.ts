import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LevelStateStore } from '../../coordinator/src/state/index.js';
import type { IssuedSiteCredential } from '../../coordinator/src/nats-auth/credential-ledger.js';
import { rejection } from '../helpers/errors.js';

const HOUR = 3_600_000;

function credential(site: string, expiresAtMs: number): IssuedSiteCredential {
  return { site, userPublicKey: createUser().getPublicKey(), federations: ['churn'], issuedAtMs: expiresAtMs - HOUR, expiresAtMs };
}

describe('the NATS credential ledger on the state LevelDB', () => {
  let dir: string;
  let store: LevelStateStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-ledger-'));
    store = new LevelStateStore(join(dir, 'state'));
    await store.open();
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the unexpired credentials of one site only', async () => {
    const ledger = store.siteCredentialLedger(8);
    const live = credential('clinic-a', Date.now() + HOUR);
    await ledger.record(live);
    await ledger.record(credential('clinic-ab', Date.now() + HOUR));
    expect(await ledger.unexpired('clinic-a', Date.now())).toEqual([live]);
  });

  it('keeps them across a restart of the store', async () => {
    const live = credential('clinic-a', Date.now() + HOUR);
    await store.siteCredentialLedger(8).record(live);
    await store.close();
    store = new LevelStateStore(join(dir, 'state'));
    await store.open();
    expect(await store.siteCredentialLedger(8).unexpired('clinic-a', Date.now())).toEqual([live]);
  });

  it('leaves out and forgets expired credentials', async () => {
    const ledger = store.siteCredentialLedger(8);
    const now = Date.now();
    await ledger.record(credential('clinic-a', now + HOUR));
    await ledger.record(credential('clinic-b', now + HOUR));
    expect(await ledger.unexpired('clinic-a', now + 2 * HOUR)).toEqual([]);
    expect(await ledger.forgetExpired(now + 2 * HOUR)).toBe(2);
    expect(await ledger.unexpired('clinic-a', now)).toEqual([]);
  });

  it('refuses a site more unexpired credentials than the bound, RATE_LIMITED', async () => {
    const ledger = store.siteCredentialLedger(2);
    await ledger.record(credential('clinic-a', Date.now() + HOUR));
    await ledger.record(credential('clinic-a', Date.now() + HOUR));
    expect(await rejection(ledger.record(credential('clinic-a', Date.now() + HOUR)))).toMatchObject({ reason: 'RATE_LIMITED' });
    await ledger.record(credential('clinic-b', Date.now() + HOUR));
  });

  it('makes room for new credentials as old ones expire', async () => {
    const ledger = store.siteCredentialLedger(1);
    await ledger.record(credential('clinic-a', Date.now() - 1));
    await ledger.record(credential('clinic-a', Date.now() + HOUR));
    expect(await ledger.unexpired('clinic-a', Date.now())).toHaveLength(1);
  });
});
