import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { encodeUser } from '@nats-io/jwt';
import { createUser, fromSeed } from '@nats-io/nkeys';
import { AdminClient, Coordinator, NatsServer, createLogger, createNatsAuthority, type CoordinatorOptions } from '@tributary/coordinator';
import { AuthorityLayout } from '../../coordinator/src/nats-auth/authority-layout.js';
import { generateSigningKey, type SigningKey } from '@tributary/proto';
import { jwtAuthenticator, type ConnectionOptions } from 'nats';
import { RawSite } from './raw-site.js';

/** A real nats-server and coordinator on loopback ports, with an admin key and client. */
export interface Stack {
  nats: NatsServer;
  coordinator: Coordinator;
  adminKey: SigningKey;
  admin: AdminClient;
  dataDir: string;
  /** The NATS authority directory (sites get their own NATS users); undefined with `natsAuth: false`. */
  natsAuthority: string | undefined;
  /**
   * NATS connection options of a user that may publish on every site's subjects: what a test
   * needs to reach the coordinator's own checks (signatures, rounds) past the NATS wall.
   */
  unscopedNatsOptions(): Promise<Partial<ConnectionOptions>>;
  /** A RawSite connected with `unscopedNatsOptions()`. */
  rawSite(): Promise<RawSite>;
  /** Stops the coordinator only (the data dir and NATS stay), for restart tests. */
  stopCoordinator(): Promise<void>;
  /** Starts a new coordinator on the same data dir and NATS. */
  restartCoordinator(): Promise<void>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /**
   * nats-server in operator mode with a NATS authority, and every SDK site on its own NATS user
   * issued by the coordinator. @default true
   */
  natsAuth?: boolean;
}

export async function startStack(overrides: Partial<CoordinatorOptions> = {}, stackOptions: StackOptions = {}): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-test-'));
  const natsAuthority = (stackOptions.natsAuth ?? true) ? join(dir, 'nats-authority') : undefined;
  if (natsAuthority !== undefined) await createNatsAuthority({ dir: natsAuthority });
  const nats = await NatsServer.start({ storeDir: join(dir, 'nats'), ...(natsAuthority === undefined ? {} : { operator: { authorityDir: natsAuthority } }) });
  const adminKey = generateSigningKey('admin');
  const dataDir = join(dir, 'data');
  const options: CoordinatorOptions = {
    dataDir,
    grpcListen: '127.0.0.1:0',
    nats: nats.url,
    adminKeys: [adminKey.publicKey],
    ...(natsAuthority === undefined ? {} : { natsAuthority }),
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
    natsAuthority,
    async unscopedNatsOptions() {
      return natsAuthority === undefined ? {} : unscopedUser(natsAuthority);
    },
    async rawSite() {
      return RawSite.connect(nats.url, stack.coordinator.publicKey, await stack.unscopedNatsOptions());
    },
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

/**
 * A user signed with the authority's account signing key that may publish on every Tributary
 * subject and hear every core NATS message on them: a stand-in for the NATS wall being breached, so tests reach
 * the coordinator's checks behind it.
 */
async function unscopedUser(authorityDir: string): Promise<Partial<ConnectionOptions>> {
  const secrets = JSON.parse(await readFile(new AuthorityLayout(authorityDir).secrets, 'utf8')) as { account: { publicKey: string; signingKeySeed: string } };
  const user = createUser();
  const jwt = await encodeUser(
    'unscoped-test-user',
    user,
    secrets.account.publicKey,
    { pub: { allow: ['trib.>'] }, sub: { allow: ['_INBOX.>', 'trib.>'] } },
    { signer: fromSeed(new TextEncoder().encode(secrets.account.signingKeySeed)) },
  );
  return { authenticator: jwtAuthenticator(jwt, user.getSeed()) };
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

/** Resolves once `count` sites hold an open WatchTasks stream, so a run started next reaches them all. */
export async function sitesWatching(stack: Stack, count: number): Promise<void> {
  await eventually(async () => ((await stack.coordinator.metrics.connectedSites.get()).values[0]?.value ?? 0) >= count, 60_000);
}
