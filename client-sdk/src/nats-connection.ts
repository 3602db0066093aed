import { readFile } from 'node:fs/promises';
import { connect as connectNats, credsAuthenticator, ErrorCode, Events, NatsError } from 'nats';
import type { ConnectionOptions, JetStreamClient, NatsConnection } from 'nats';
import { Reason, TributaryError } from '@tributary/proto';
import { describeError } from './logging.js';
import type { CompiledNatsAuth, CompiledSiteClientOptions } from './options.js';
import type { NatsCredentialLease } from './nats-credentials.js';

/** Most URLs a coordinator may advertise; more are ignored. */
export const MAX_ADVERTISED_NATS_URLS = 8;
const MAX_URL_CHARS = 256;
const ADVERTISED_URL = /^(?:nats|tls):\/\/(?:\[[0-9A-Fa-f:.]+\]|[^\s:/@[\]]+)(?::\d{1,5})?\/?$/;
/** How long a connection to advertised URLs may take before the site keeps the one it has. */
const SWITCH_CONNECT_TIMEOUT_MS = 10_000;
/** Advertised URL sets that could not be reached, remembered so a healthy connection is not left for them again. */
const MAX_REMEMBERED_FAILURES = 8;

/**
 * The site's NATS connection, which follows the coordinator: when a task advertises other NATS
 * URLs than the ones in use (the coordinator's NATS moved), it connects to those and, once
 * connected, hands them to everything that publishes, then closes the old connection. A set of
 * URLs that cannot be reached is tried again only while the current connection is down.
 */
export class SiteNatsConnection {
  readonly #options: CompiledSiteClientOptions;
  readonly #site: string;
  readonly #lease: NatsCredentialLease | undefined;
  readonly #listeners: Array<(nc: NatsConnection) => void> = [];
  readonly #unreachable = new Set<string>();
  #nc: NatsConnection;
  #js: JetStreamClient;
  #servers: readonly string[];
  #up = true;
  #switching: Promise<void> | undefined;
  #closed = false;

  private constructor(options: CompiledSiteClientOptions, site: string, lease: NatsCredentialLease | undefined, nc: NatsConnection, servers: readonly string[]) {
    this.#options = options;
    this.#site = site;
    this.#lease = lease;
    this.#nc = nc;
    this.#js = nc.jetstream();
    this.#servers = servers;
    this.#track(nc);
  }

  /** Connects to the URLs the site was given. */
  static async open(options: CompiledSiteClientOptions, site: string, lease: NatsCredentialLease | undefined): Promise<SiteNatsConnection> {
    const nc = await openNats(options, options.nats, site, lease);
    return new SiteNatsConnection(options, site, lease, nc, options.nats);
  }

  get nc(): NatsConnection {
    return this.#nc;
  }

  get js(): JetStreamClient {
    return this.#js;
  }

  /** The URLs of the connection in use. */
  get servers(): readonly string[] {
    return this.#servers;
  }

  /** Calls `listener` with each new connection after a switch. */
  onSwitch(listener: (nc: NatsConnection) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Switches to `advertised` (a task's `natsUrls`) when they differ from the URLs in use. Only
   * nats:// and tls:// URLs count, at most MAX_ADVERTISED_NATS_URLS; anything else is ignored.
   * Never throws: a switch that fails is logged and the connection in use stays.
   */
  follow(advertised: readonly string[]): Promise<void> {
    const urls = advertisedUrls(advertised);
    if (urls.length === 0 || this.#closed || sameUrls(urls, this.#servers)) return Promise.resolve();
    if (this.#switching !== undefined) return this.#switching;
    const key = urls.join(',');
    if (this.#unreachable.has(key) && this.#up) return Promise.resolve();
    this.#switching = this.#switch(urls, key).finally(() => {
      this.#switching = undefined;
    });
    return this.#switching;
  }

  /** Drains the connection in use, or closes it when the drain does not finish within `grace`. */
  async close(grace: AbortSignal): Promise<void> {
    this.#closed = true;
    await this.#switching;
    await drainOrClose(this.#nc, grace, this.#options);
  }

  async #switch(urls: readonly string[], key: string): Promise<void> {
    const { logger } = this.#options;
    const from = this.#servers;
    let next: NatsConnection;
    try {
      next = await openNats(this.#options, urls, this.#site, this.#lease, SWITCH_CONNECT_TIMEOUT_MS);
    } catch (err) {
      if (this.#unreachable.size >= MAX_REMEMBERED_FAILURES) this.#unreachable.clear();
      this.#unreachable.add(key);
      logger.warn({ from, to: urls, err: describeError(err) }, 'the coordinator advertises other NATS URLs, which cannot be reached; keeping the connection in use');
      return;
    }
    if (this.#closed) {
      await next.close().catch(() => undefined);
      return;
    }
    const old = this.#nc;
    this.#nc = next;
    this.#js = next.jetstream();
    this.#servers = urls;
    this.#up = true;
    this.#unreachable.delete(key);
    this.#track(next);
    for (const listener of this.#listeners) listener(next);
    logger.info({ from, to: urls }, 'NATS moved: switched to the URLs the coordinator advertises');
    // The old connection is likely retrying a dead server, where a drain would wait for nothing.
    void old.close().catch(() => undefined);
  }

  /** Whether the connection in use is up, to know if an unreachable advertised set is worth another try. */
  #track(nc: NatsConnection): void {
    void (async () => {
      for await (const s of nc.status()) {
        if (nc !== this.#nc) return;
        if (s.type === Events.Disconnect) this.#up = false;
        else if (s.type === Events.Reconnect) this.#up = true;
      }
    })().catch(() => undefined);
    void nc.closed().then(() => {
      if (nc === this.#nc) this.#up = false;
    });
  }
}

/** The advertised URLs worth following: nats:// or tls:// URLs without credentials, at most MAX_ADVERTISED_NATS_URLS. */
export function advertisedUrls(advertised: readonly unknown[]): string[] {
  return advertised
    .slice(0, MAX_ADVERTISED_NATS_URLS)
    .filter((u): u is string => typeof u === 'string' && u.length <= MAX_URL_CHARS && ADVERTISED_URL.test(u));
}

/** The same servers, whatever the order; a URL without a scheme is a nats:// one. */
function sameUrls(a: readonly string[], b: readonly string[]): boolean {
  const norm = (urls: readonly string[]): string =>
    urls
      .map((u) => (/^[a-z]+:\/\//.test(u) ? u : `nats://${u}`).replace(/\/$/, ''))
      .sort()
      .join(',');
  return norm(a) === norm(b);
}

async function drainOrClose(nc: NatsConnection, grace: AbortSignal, options: CompiledSiteClientOptions): Promise<void> {
  if (nc.isClosed()) return;
  const timedOut = new Promise<void>((_, reject) => {
    if (grace.aborted) reject(grace.reason);
    grace.addEventListener('abort', () => reject(grace.reason), { once: true });
  });
  try {
    await Promise.race([nc.drain(), timedOut]);
  } catch (err) {
    options.logger.debug({ err: describeError(err) }, 'NATS drain did not finish; closing');
    await nc.close().catch(() => undefined);
  }
}

async function openNats(
  options: CompiledSiteClientOptions,
  servers: readonly string[],
  site: string,
  lease: NatsCredentialLease | undefined,
  timeoutMs?: number,
): Promise<NatsConnection> {
  const auth = options.natsAuth === undefined ? {} : await natsConnectionAuth(options.natsAuth);
  // With issued credentials a reconnect refused for an expired JWT is retried: the lease renews it
  // over gRPC, and the next attempt presents the fresh one (the lease ends the connection for good).
  const issued = lease === undefined ? {} : { authenticator: lease.authenticator(), inboxPrefix: lease.inboxPrefix, ignoreAuthErrorAbort: true };
  try {
    return await connectNats({
      servers: [...servers],
      name: `tributary-site-${site}`,
      maxReconnectAttempts: -1,
      ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
      ...auth,
      ...issued,
    });
  } catch (err) {
    if (err instanceof NatsError && err.isAuthError()) {
      throw TributaryError.of(
        Reason.PERMISSION_DENIED,
        `NATS at ${servers.join(', ')} refused the site's credentials (${lease !== undefined ? 'issued by the coordinator: is NATS running with its authority?' : options.natsAuth === undefined ? 'none given: set natsAuth' : 'check natsAuth'}): ${describeError(err)}`,
        { cause: err },
      );
    }
    const noTls = err instanceof NatsError && err.code === ErrorCode.ServerOptionNotAvailable;
    throw TributaryError.of(
      Reason.UNAVAILABLE,
      `cannot connect to NATS at ${servers.join(', ')}: ${noTls ? 'the server does not offer TLS, which natsAuth.tls asks for' : describeError(err)}`,
      { cause: err },
    );
  }
}

/** nats.js connection options of `natsAuth`; the .creds file is read here, at connect. */
async function natsConnectionAuth(auth: CompiledNatsAuth): Promise<Pick<ConnectionOptions, 'user' | 'pass' | 'token' | 'authenticator' | 'tls'>> {
  const creds = auth.credsFile === undefined ? undefined : await readFile(auth.credsFile, 'utf8');
  return {
    ...(auth.user === undefined ? {} : { user: auth.user, pass: auth.pass }),
    ...(auth.token === undefined ? {} : { token: auth.token }),
    ...(creds === undefined ? {} : { authenticator: credsAuthenticator(new TextEncoder().encode(creds)) }),
    ...(auth.tls === undefined ? {} : { tls: { ...auth.tls } }),
  };
}
