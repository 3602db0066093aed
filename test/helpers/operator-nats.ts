import { NatsAuthority, NatsServer, type SiteCredentials } from '@tributary/coordinator';
import { STREAM_METRICS, STREAM_PAYLOADS, STREAM_UPDATES } from '@tributary/proto';
import { connect, credsAuthenticator, jwtAuthenticator, nanos, type ConnectionOptions, type JetStreamManager, type NatsConnection } from 'nats';
import { ensureDurableConsumer, ensureStreams } from '../../coordinator/src/ingest/streams.js';

/** The update ingest's durable consumer, as the coordinator names it. */
export const INGEST_CONSUMER = 'tributary-ingest';
export const DATA_PLANE_STREAMS = [STREAM_UPDATES, STREAM_PAYLOADS, STREAM_METRICS] as const;

/**
 * A nats-server in operator mode with the data plane as the coordinator sets it up: streams and
 * the ingest's durable consumer, made over the coordinator's own NATS user; and the authority
 * that issues site credentials and pushes revocations to this server.
 */
export interface OperatorNats {
  readonly nats: NatsServer;
  readonly authority: NatsAuthority;
  /** The coordinator's connection (its own creds). */
  readonly coordinator: NatsConnection;
  readonly jsm: JetStreamManager;
  /** Connects as a site with issued credentials and the inbox prefix they name. */
  connectSite(credentials: SiteCredentials, opts?: Partial<ConnectionOptions> & { seed?: string }): Promise<SiteConnection>;
  /** Messages in each data-plane stream. */
  streamCounts(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/** A permission the server refused, as the client heard it. */
export interface Refusal {
  readonly operation: string;
  readonly subject: string;
}

/** A site's connection, recording every permissions violation and error the server reports. */
export class SiteConnection {
  readonly refusals: Refusal[] = [];
  /** Error codes the server sent (`AUTHENTICATION_EXPIRED`, `AUTHORIZATION_VIOLATION`...). */
  readonly errors: string[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly disconnected: Promise<number>;

  constructor(readonly nc: NatsConnection) {
    let onDisconnect: (atMs: number) => void = () => {};
    this.disconnected = new Promise((resolve) => (onDisconnect = resolve));
    void nc.closed().then(() => onDisconnect(Date.now()));
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') onDisconnect(Date.now());
        if (s.type !== 'error') continue;
        this.errors.push(String(s.data));
        if (s.permissionContext === undefined) continue;
        this.refusals.push({ ...s.permissionContext });
        for (const wake of this.waiters) wake();
      }
    })();
  }

  /** When the server dropped the connection (first disconnect, or close); rejects after `timeoutMs`. */
  async dropped(timeoutMs: number): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still connected after ${timeoutMs} ms`)), timeoutMs)));
    try {
      return await Promise.race([this.disconnected, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves once the server refused `operation` on `subject`; rejects after `timeoutMs`. */
  async refused(operation: 'publish' | 'subscription', subject: string, timeoutMs = 3000): Promise<void> {
    const seen = (): boolean => this.refusals.some((r) => r.operation === operation && r.subject === subject);
    if (seen()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no permissions violation for ${operation} to ${subject}; refusals: ${JSON.stringify(this.refusals)}`));
      }, timeoutMs);
      const check = (): void => {
        if (!seen()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.close();
  }
}

export async function startOperatorNats(): Promise<OperatorNats> {
  const nats = await NatsServer.start({ operator: {} });
  const access = nats.operator;
  if (access === undefined) throw new Error('nats-server did not start in operator mode');
  const authority = await NatsAuthority.load({ dir: access.authorityDir, servers: [nats.url] });
  const coordinator = await connect({ servers: [nats.url], authenticator: credsAuthenticator(access.coordinatorCreds), name: 'coordinator' });
  const jsm = await coordinator.jetstreamManager();
  await ensureStreams(jsm);
  await ensureDurableConsumer(jsm, STREAM_UPDATES, INGEST_CONSUMER, { ack_wait: nanos(30_000), max_deliver: -1 });
  const sites: SiteConnection[] = [];
  return {
    nats,
    authority,
    coordinator,
    jsm,
    async connectSite(credentials, opts = {}) {
      const { seed, ...options } = opts;
      const authenticator =
        credentials.creds !== undefined ? credsAuthenticator(new TextEncoder().encode(credentials.creds)) : jwtAuthenticator(credentials.jwt, new TextEncoder().encode(seed ?? ''));
      const nc = await connect({ servers: [nats.url], authenticator, inboxPrefix: credentials.inboxPrefix, name: credentials.site, ...options });
      const site = new SiteConnection(nc);
      sites.push(site);
      return site;
    },
    async streamCounts() {
      const counts: Record<string, number> = {};
      for (const name of DATA_PLANE_STREAMS) counts[name] = (await jsm.streams.info(name)).state.messages;
      return counts;
    },
    async stop() {
      await Promise.allSettled(sites.map((s) => s.close()));
      await coordinator.close();
      await authority.close();
      await nats.stop();
    },
  };
}
