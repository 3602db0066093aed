import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SiteClient, type SiteLogger } from '@tributary/client-sdk';
import {
  RpcClient,
  decodeEnvelope,
  decodeManifest,
  encodeEnvelope,
  encodeSafetensors,
  encodeUpdateStatus,
  formatPublicKey,
  generateSigningKey,
  readKeyFile,
  signEnvelope,
  signVerdict,
  subjects,
  type SigningKey,
  type UpdateStatus,
  type WhoAmIRequest,
  type WhoAmIResponse__Output,
} from '@tributary/proto';
import { connect, type ConnectionOptions, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSite, startStack, type Stack } from '../helpers/stack.js';
import { shifted, toyModel, toyTrain } from '../helpers/training.js';

/** A site logger that keeps the reasons of the verdicts the SDK ignored. */
function ignoringLogger(): SiteLogger & { ignored: string[] } {
  const ignored: string[] = [];
  return {
    ignored,
    info: () => undefined,
    warn: () => undefined,
    debug: (obj: object, msg?: string) => {
      if (msg?.startsWith('verdict ignored') === true) ignored.push(String((obj as { reason?: unknown }).reason ?? msg));
    },
  };
}

/**
 * Someone on the NATS server who reads the update subjects and, for each manifest it sees,
 * publishes forged verdicts on its site's verdict subject at once: an unsigned UpdateStatus,
 * one signed by its own key, one signed by its own key but naming the coordinator's key id, and
 * one truly signed by the coordinator's key but about the update as another site's (a genuine
 * verdict sent where it does not belong).
 */
class Forger {
  readonly key = generateSigningKey('forger');
  /** Per site: settles once the forged verdicts for its manifest are on the server. */
  private readonly published = new Map<string, { promise: Promise<void>; resolve: () => void }>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly coordinatorKey: SigningKey,
    private readonly claim: (site: string) => Pick<UpdateStatus, 'state' | 'reason' | 'message'>,
  ) {}

  static async start(url: string, federation: string, coordinatorKey: SigningKey, claim: Forger['claim'], natsOptions: Partial<ConnectionOptions>): Promise<Forger> {
    // An attacker past the NATS wall (e.g. NATS without per-site users): only the signatures stop it.
    const forger = new Forger(await connect({ servers: [url], ...natsOptions }), coordinatorKey, claim);
    forger.nc.subscribe(`trib.${federation}.update.>`, { callback: (_err, msg) => forger.forge(msg.data) });
    await forger.nc.flush();
    return forger;
  }

  /** Resolves once the forged verdicts for `site`'s manifest are on the server. */
  forged(site: string): Promise<void> {
    return this.slot(site).promise;
  }

  async close(): Promise<void> {
    await this.nc.drain();
  }

  private forge(data: Uint8Array): void {
    const manifest = decodeManifest(decodeEnvelope(data).body);
    const status: UpdateStatus = {
      updateId: manifest.updateId,
      federation: manifest.federation,
      runId: manifest.runId,
      round: manifest.round,
      site: manifest.site,
      ...this.claim(manifest.site),
    };
    const subject = subjects.verdict(manifest.federation, manifest.site);
    const impostor = signEnvelope('verdict', encodeUpdateStatus(status), this.key);
    this.nc.publish(subject, encodeUpdateStatus(status));
    this.nc.publish(subject, signVerdict(status, this.key));
    this.nc.publish(subject, encodeEnvelope({ ...impostor, keyId: this.coordinatorKey.keyId }));
    this.nc.publish(subject, signVerdict({ ...status, site: `${manifest.site}-elsewhere` }, this.coordinatorKey));
    void this.nc.flush().then(() => this.slot(manifest.site).resolve());
  }

  private slot(site: string): { promise: Promise<void>; resolve: () => void } {
    let slot = this.published.get(site);
    if (slot === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      slot = { promise, resolve };
      this.published.set(site, slot);
    }
    return slot;
  }
}

describe('verdicts a site can trust', () => {
  let stack: Stack;
  const federation = 'trusted';
  const base = toyModel();
  let keys: Record<string, SigningKey> = {};

  beforeAll(async () => {
    stack = await startStack();
    await stack.admin.createFederation({
      name: federation,
      settings: { rounds: 1, minSites: 2, sampleCount: 2, normBound: 5, roundDeadlineSeconds: 300 },
      initialModel: encodeSafetensors(base),
    });
    keys = {
      pusher: await addSite(stack, 'pusher', [federation]),
      honest: await addSite(stack, 'honest', [federation]),
    };
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const connectSite = (site: string, extra: { coordinatorKey?: Uint8Array | string; logger?: SiteLogger } = {}) =>
    SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key: keys[site] as SigningKey, ...extra });

  async function whoAmI(key: SigningKey): Promise<WhoAmIResponse__Output> {
    const rpc = new RpcClient({ address: stack.coordinator.address, key, service: 'SiteService' });
    try {
      return await rpc.unary<WhoAmIRequest, WhoAmIResponse__Output>('WhoAmI', {});
    } finally {
      rpc.close();
    }
  }

  it('tells admins and sites the coordinator key in WhoAmI', async () => {
    for (const key of [stack.adminKey, keys['honest'] as SigningKey]) {
      const who = await whoAmI(key);
      expect(Uint8Array.from(who.coordinatorKey)).toEqual(stack.coordinator.publicKey);
      expect(who.coordinatorKeyId).toBe(stack.coordinator.keyId);
    }
  });

  it('keeps the coordinator key in the data directory, readable by its owner only, across a restart', async () => {
    const before = stack.coordinator.keyId;
    const file = join(stack.dataDir, 'coordinator.key');
    await stack.stopCoordinator();
    await stack.restartCoordinator();
    expect(stack.coordinator.keyId).toBe(before);
    expect((await readKeyFile(file)).keyId).toBe(before);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await whoAmI(stack.adminKey)).coordinatorKeyId).toBe(before);
  });

  it('refuses to connect when the coordinator presents another key than the pinned one', async () => {
    const pinned = generateSigningKey('not-the-coordinator').publicKey;
    await expect(connectSite('honest', { coordinatorKey: pinned })).rejects.toMatchObject({ code: 'UNAUTHENTICATED', reason: 'COORDINATOR_KEY_MISMATCH' });
  });

  it('connects when the pinned key, in base64, is the coordinator key', async () => {
    const client = await connectSite('honest', { coordinatorKey: formatPublicKey(stack.coordinator.publicKey) });
    expect(client.site).toBe('honest');
    await client.close();
  });

  it('reports the coordinator verdicts, not the forged ones that arrived first', async () => {
    const run = await stack.admin.startRun(federation);
    // The coordinator's own key, read from its data directory, for a misaddressed genuine verdict.
    const coordinatorKey = await readKeyFile(join(stack.dataDir, 'coordinator.key'));
    const forger = await Forger.start(stack.nats.url, federation, coordinatorKey, (site) =>
      site === 'pusher'
        ? { state: 'UPDATE_STATE_ACCEPTED', reason: '', message: '' }
        : { state: 'UPDATE_STATE_REFUSED', reason: 'SITE_NOT_SELECTED', message: 'forged' },
      await stack.unscopedNatsOptions(),
    );
    const pusherLog = ignoringLogger();
    const honestLog = ignoringLogger();
    // One site pins the key (base64), the other learns it from WhoAmI.
    const pusher = await connectSite('pusher', { coordinatorKey: formatPublicKey(stack.coordinator.publicKey), logger: pusherLog });
    const honest = await connectSite('honest', { logger: honestLog });
    try {
      const pusherTask = await pusher.nextTask(federation, { timeoutMs: 30_000 });
      const honestTask = await honest.nextTask(federation, { timeoutMs: 30_000 });
      expect([pusherTask.runId, honestTask.runId]).toEqual([run.id, run.id]);
      // With the coordinator stopped, the manifests wait in their stream while the forged verdicts
      // reach the sites: the coordinator's own verdicts can only come after them.
      await stack.stopCoordinator();
      const pushed = pusher.submit(pusherTask, { weights: shifted(base, 'w', 30), numExamples: 10 });
      const sent = honest.submit(honestTask, { weights: toyTrain(base, 'honest', 1), numExamples: 10 });
      await Promise.all([forger.forged('pusher'), forger.forged('honest')]);
      await stack.restartCoordinator();

      expect(await pushed).toMatchObject({ accepted: false, reason: 'NORM_EXCEEDED' });
      expect(await sent).toMatchObject({ accepted: true });
      for (const log of [pusherLog, honestLog]) {
        expect(log.ignored.filter((r) => r === 'VERDICT_SIGNATURE_INVALID')).toHaveLength(2);
        expect(log.ignored).toContain('MALFORMED_ENVELOPE');
        expect(log.ignored).toContain('verdict ignored: about another federation or site');
      }
      // The sites' heartbeats met the stopped coordinator, and the admin client shares their
      // channel's connection: it may still be in its reconnect backoff.
      const round = await untilConnected(() => stack.admin.getRound(run.id, 1));
      expect(round.accepted.map((a) => a.site)).toEqual(['honest']);
      expect(round.refused.map((r) => [r.site, r.reason])).toEqual([['pusher', 'NORM_EXCEEDED']]);
    } finally {
      await forger.close();
      await pusher.close();
      await honest.close();
    }
  });
});

/** Retries a call refused UNAVAILABLE while the gRPC connection is re-established (bounded). */
async function untilConnected<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= 50 || (err as { code?: string }).code !== 'UNAVAILABLE') throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
