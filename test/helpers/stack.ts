import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient, Coordinator, NatsServer, createLogger, type CoordinatorOptions } from '@tributary/coordinator';
import { generateSigningKey, type SigningKey } from '@tributary/proto';

/** A real nats-server and coordinator on loopback ports, with an admin key and client. */
export interface Stack {
  nats: NatsServer;
  coordinator: Coordinator;
  adminKey: SigningKey;
  admin: AdminClient;
  dataDir: string;
  /** Stops the coordinator only (the data dir and NATS stay), for restart tests. */
  stopCoordinator(): Promise<void>;
  /** Starts a new coordinator on the same data dir and NATS. */
  restartCoordinator(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStack(overrides: Partial<CoordinatorOptions> = {}): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-test-'));
  const nats = await NatsServer.start({ storeDir: join(dir, 'nats') });
  const adminKey = generateSigningKey('admin');
  const dataDir = join(dir, 'data');
  const options: CoordinatorOptions = {
    dataDir,
    grpcListen: '127.0.0.1:0',
    nats: nats.url,
    adminKeys: [adminKey.publicKey],
    // TRIBUTARY_TEST_LOG=debug shows the coordinator's log while a suite runs.
    ...(process.env['TRIBUTARY_TEST_LOG'] ? { logger: createLogger(process.env['TRIBUTARY_TEST_LOG']) } : {}),
    ...overrides,
  };
  const stack: Stack = {
    nats,
    coordinator: await Coordinator.start(options),
    adminKey,
    admin: undefined as unknown as AdminClient,
    dataDir,
    async stopCoordinator() {
      stack.admin.close();
      await stack.coordinator.close();
    },
    async restartCoordinator() {
      stack.coordinator = await Coordinator.start({ ...options, grpcListen: stack.coordinator.address });
      stack.admin = new AdminClient({ address: stack.coordinator.address, key: adminKey });
    },
    async stop() {
      stack.admin.close();
      await stack.coordinator.close().catch(() => undefined);
      await nats.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  stack.admin = new AdminClient({ address: stack.coordinator.address, key: adminKey });
  return stack;
}

/** Generates a site key and registers the site as a member of the given federations. */
export async function addSite(stack: Stack, name: string, federations: string[]): Promise<SigningKey> {
  const key = generateSigningKey(name);
  await stack.admin.addSite({ name, publicKey: key.publicKey, federations });
  return key;
}

/** Resolves when `predicate` holds, polling every 20 ms, or rejects after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** How many updates the coordinator counted as refused with `reason` (`tributary_updates_refused_total`). */
export async function refusalsCounted(metrics: { registry: { getSingleMetricAsString(name: string): Promise<string> } }, reason: string): Promise<number> {
  const text = await metrics.registry.getSingleMetricAsString('tributary_updates_refused_total');
  const m = new RegExp(`reason="${reason}"} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}
