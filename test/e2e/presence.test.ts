import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SiteClient } from '@tributary/client-sdk';
import { AUTH_HEADERS, encodeSafetensors, generateSigningKey, methodPath, serviceDefinition, signCall, writeKeyFile, type SigningKey, type Site__Output } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeOf, runCli } from '../helpers/cli.js';
import { addSite, eventually, startStack, type Stack } from '../helpers/stack.js';
import { toyModel } from '../helpers/training.js';

const WHOAMI = methodPath('SiteService', 'WhoAmI');

/** A WhoAmI signed by `key`, with the key id in its metadata replaced by `keyId` when given. */
function whoAmI(address: string, key: SigningKey, keyId?: string): Promise<grpc.status> {
  const body = (serviceDefinition('SiteService') as unknown as Record<string, { requestSerialize(r: object): Buffer }>)['WhoAmI']!.requestSerialize({});
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries({ ...signCall(key, WHOAMI, body), ...(keyId === undefined ? {} : { [AUTH_HEADERS.keyId]: keyId }) })) metadata.set(k, v);
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<grpc.status>((resolve) => {
    client.makeUnaryRequest(WHOAMI, (b: Buffer) => b, (b: Buffer) => b, body, metadata, (err) => resolve(err?.code ?? grpc.status.OK));
  }).finally(() => client.close());
}

describe("sites' last seen and connected", () => {
  let stack: Stack;
  let dir: string;
  let watcherKey: SigningKey;
  let quietKey: SigningKey;
  let watcher: SiteClient | undefined;
  const stopWatching = new AbortController();
  let watching: Promise<unknown> = Promise.resolve();
  let openedAtMs = 0;
  let lastSeenAfterStream = 0;

  const siteNamed = async (name: string): Promise<Site__Output> => {
    const site = (await stack.admin.listSites()).find((s) => s.name === name);
    if (site === undefined) throw new Error(`no site ${name}`);
    return site;
  };

  beforeAll(async () => {
    stack = await startStack();
    dir = await mkdtemp(join(tmpdir(), 'tributary-presence-'));
    await writeKeyFile(join(dir, 'admin.key'), stack.adminKey);
    await stack.admin.createFederation({ name: 'clinics', initialModel: encodeSafetensors(toyModel()) });
    watcherKey = await addSite(stack, 'clinic-a', ['clinics']);
    quietKey = await addSite(stack, 'clinic-b', ['clinics']);
  });

  afterAll(async () => {
    stopWatching.abort();
    await watching.catch(() => undefined);
    await watcher?.close();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows a site that never called as never seen and not connected', async () => {
    const site = await siteNamed('clinic-b');
    expect(site.lastSeenAtMs).toBe(0);
    expect(site.connected).toBe(false);
  });

  it('shows a site watching tasks as connected and seen just now', async () => {
    openedAtMs = Date.now();
    watcher = await SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key: watcherKey });
    watching = watcher.participate('clinics', async () => ({ weights: toyModel(), numExamples: 1 }), { signal: stopWatching.signal });
    const site = await eventually(async () => {
      const s = await siteNamed('clinic-a');
      return s.connected ? s : undefined;
    });
    expect(site.lastSeenAtMs).toBeGreaterThanOrEqual(openedAtMs);
    expect(site.lastSeenAtMs).toBeLessThanOrEqual(Date.now());
  });

  it('shows the site not connected once it stops watching, and keeps when it was last seen', async () => {
    stopWatching.abort();
    await watching.catch(() => undefined);
    await watcher?.close();
    watcher = undefined;
    const site = await eventually(async () => {
      const s = await siteNamed('clinic-a');
      return s.connected ? undefined : s;
    });
    expect(site.lastSeenAtMs).toBeGreaterThanOrEqual(openedAtMs);
    lastSeenAfterStream = site.lastSeenAtMs;
  });

  it("records nothing for a stranger's call, nor for a call with a known site's key id and another key's signature", async () => {
    await expect(whoAmI(stack.coordinator.address, generateSigningKey('stranger'))).resolves.toBe(grpc.status.UNAUTHENTICATED);
    await expect(whoAmI(stack.coordinator.address, generateSigningKey('forger'), quietKey.keyId)).resolves.toBe(grpc.status.UNAUTHENTICATED);
    const quiet = await siteNamed('clinic-b');
    expect(quiet.lastSeenAtMs).toBe(0);
    expect(quiet.connected).toBe(false);
  });

  it('records an authenticated call of a site as its last seen', async () => {
    const before = Date.now();
    await expect(whoAmI(stack.coordinator.address, quietKey)).resolves.toBe(grpc.status.OK);
    const site = await siteNamed('clinic-b');
    expect(site.lastSeenAtMs).toBeGreaterThanOrEqual(before);
    expect(site.connected).toBe(false);
  });

  it('prints LAST SEEN and CONNECTED columns in `tributary site list`', async () => {
    const env = { TRIBUTARY_COORDINATOR: stack.coordinator.address, TRIBUTARY_KEY: join(dir, 'admin.key') };
    const r = await runCli(['site', 'list'], { env });
    expect(r.code).toBe(0);
    const [header, ...rows] = r.stdout.trim().split('\n');
    expect(header).toMatch(/LAST SEEN\s+CONNECTED$/);
    expect(rows.find((l) => l.startsWith('clinic-a'))).toMatch(/\d+[smhd] ago\s+no$/);
  });

  it('gives last seen and connected in `tributary site list --json`', async () => {
    const env = { TRIBUTARY_COORDINATOR: stack.coordinator.address, TRIBUTARY_KEY: join(dir, 'admin.key') };
    const sites = envelopeOf<{ sites: Array<{ name: string; lastSeenAtMs: number; connected: boolean }> }>(await runCli(['site', 'list', '--json'], { env })).result?.sites ?? [];
    expect(sites.find((s) => s.name === 'clinic-a')).toMatchObject({ lastSeenAtMs: lastSeenAfterStream, connected: false });
  });

  it('keeps last seen across a coordinator restart, with no site connected after it', async () => {
    const before = await stack.admin.listSites();
    await stack.stopCoordinator();
    await stack.restartCoordinator();
    const after = await stack.admin.listSites();
    for (const site of before) {
      expect(after.find((s) => s.name === site.name)).toMatchObject({ lastSeenAtMs: site.lastSeenAtMs, connected: false });
    }
    expect(after.find((s) => s.name === 'clinic-a')?.lastSeenAtMs).toBeGreaterThan(0);
  });
});
