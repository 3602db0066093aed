import { createUser, type KeyPair } from '@nats-io/nkeys';
import { Events, jwtAuthenticator, type Authenticator, type NatsConnection } from 'nats';
import { Backoff, Reason, TributaryError, type BackoffPolicy, type RpcClient } from '@tributary/proto';
import type { GetNatsCredentialsRequest, NatsCredentials__Output } from '@tributary/proto';
import { describeError, type SiteLogger } from './logging.js';

/** Renew when this share of a credential's lifetime has passed. */
const RENEW_AT = 2 / 3;
/** How long one GetNatsCredentials call may take. */
const CALL_TIMEOUT_MS = 15_000;
/** Refusals after which asking again is pointless: the site is revoked or unknown. */
const PERMANENT: ReadonlySet<string> = new Set([Reason.KEY_REVOKED, Reason.AUTH_FAILED, Reason.AUTH_UNKNOWN_KEY, Reason.PERMISSION_DENIED, Reason.FAILED_PRECONDITION]);

/**
 * The site's own NATS user, issued by the coordinator (GetNatsCredentials) when NATS runs in
 * operator mode. The user nkey is made here, in memory, and its seed never leaves the process;
 * the coordinator signs a short-lived JWT for its public key. The JWT is renewed over gRPC at
 * two thirds of its lifetime, and the connection's authenticator always presents the latest
 * one, so a reconnect after the old JWT expired (the server drops the connection then) goes
 * through with the fresh one.
 */
export class NatsCredentialLease {
  readonly #rpc: RpcClient;
  readonly #logger: SiteLogger;
  readonly #retry: BackoffPolicy;
  readonly #user: KeyPair;
  #current: NatsCredentials__Output;
  #renewing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #nc: NatsConnection | undefined;
  #closed = false;

  private constructor(rpc: RpcClient, logger: SiteLogger, retry: BackoffPolicy, user: KeyPair, first: NatsCredentials__Output) {
    this.#rpc = rpc;
    this.#logger = logger;
    this.#retry = retry;
    this.#user = user;
    this.#current = first;
  }

  /** Makes a user nkey and asks the coordinator for its first JWT. */
  static async obtain(opts: { rpc: RpcClient; logger: SiteLogger; retry: BackoffPolicy }): Promise<NatsCredentialLease> {
    const user = createUser();
    const first = await ask(opts.rpc, user);
    opts.logger.debug({ federations: first.federations, expiresAtMs: first.expiresAtMs }, 'NATS credentials issued');
    return new NatsCredentialLease(opts.rpc, opts.logger, opts.retry, user, first);
  }

  /** The inbox prefix the connection must use: the only one the site may subscribe to. */
  get inboxPrefix(): string {
    return this.#current.inboxPrefix;
  }

  /** The federations the current JWT covers. */
  get federations(): readonly string[] {
    return this.#current.federations;
  }

  get expiresAtMs(): number {
    return this.#current.expiresAtMs;
  }

  /** nats.js authenticator: the latest JWT, and the server's nonce signed with the user seed. */
  authenticator(): Authenticator {
    return jwtAuthenticator(() => this.#current.jwt, this.#user.getSeed());
  }

  /** Starts renewing, for the connection made with `authenticator()`. */
  start(nc: NatsConnection): void {
    this.#nc = nc;
    this.#schedule();
    void this.#renewOnDisconnect(nc);
  }

  /**
   * Makes sure the connection may publish in `federation`: a federation the site joined after
   * its JWT was issued needs a new JWT and a reconnect (a connection's permissions are fixed at
   * connect time).
   */
  async cover(federation: string): Promise<void> {
    if (this.#current.federations.includes(federation)) return;
    await this.renew('joined a federation the NATS credentials do not cover');
    if (!this.#current.federations.includes(federation)) return;
    this.#logger.debug({ federation }, 'NATS reconnecting with credentials for a new federation');
    await this.#nc?.reconnect();
  }

  /** Asks for a fresh JWT now (once at a time); the next reconnect presents it. */
  renew(why: string): Promise<void> {
    this.#renewing ??= (async () => {
      try {
        this.#current = await ask(this.#rpc, this.#user);
        this.#logger.debug({ why, federations: this.#current.federations, expiresAtMs: this.#current.expiresAtMs }, 'NATS credentials renewed');
      } finally {
        this.#renewing = undefined;
      }
    })();
    return this.#renewing;
  }

  /**
   * A dropped connection may mean the JWT expired or the site was revoked: ask at once, so a
   * reconnect presents a fresh JWT, or a revoked site stops reconnecting.
   */
  async #renewOnDisconnect(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (this.#closed) return;
      if (status.type !== Events.Disconnect) continue;
      this.renew('the NATS connection dropped').catch((err: unknown) => {
        const e = TributaryError.from(err);
        if (this.#closed || !PERMANENT.has(e.reason)) return;
        this.#logger.warn({ err: describeError(e) }, 'NATS credentials cannot be renewed; closing the NATS connection');
        this.close();
        void nc.close().catch(() => undefined);
      });
    }
  }

  /** Stops renewing. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#closed) return;
    const lifetimeMs = Math.max(0, this.#current.expiresAtMs - Date.now());
    this.#arm(Math.floor(lifetimeMs * RENEW_AT), new Backoff({ policy: this.#retry }));
  }

  #arm(delayMs: number, backoff: Backoff): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#renewOnTime(backoff), delayMs);
    this.#timer.unref();
  }

  async #renewOnTime(backoff: Backoff): Promise<void> {
    if (this.#closed) return;
    try {
      await this.renew('two thirds of the lifetime passed');
      this.#schedule();
    } catch (err) {
      const e = TributaryError.from(err);
      if (this.#closed) return;
      if (PERMANENT.has(e.reason)) {
        this.#logger.warn({ err: describeError(e) }, 'NATS credentials cannot be renewed; the connection ends when they expire');
        // The connection retries refused reconnects (a late renewal must not strand it): end it here instead.
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => void this.#nc?.close().catch(() => undefined), Math.max(0, this.#current.expiresAtMs - Date.now()));
        this.#timer.unref();
        return;
      }
      // Any other failure may pass; only retry.maxRetries / retry.maxWait (unlimited by default) end the attempts.
      const delayMs = backoff.retryDelay(e, () => true);
      if (delayMs === undefined) {
        this.#logger.warn({ err: describeError(e), attempts: backoff.attempt, expiresAtMs: this.#current.expiresAtMs }, 'NATS credentials renewal given up (retry limit); the connection ends when they expire');
        return;
      }
      this.#logger.warn({ err: describeError(e), delayMs, expiresAtMs: this.#current.expiresAtMs }, 'NATS credentials renewal failed; retrying');
      this.#arm(delayMs, backoff);
    }
  }
}

async function ask(rpc: RpcClient, user: KeyPair): Promise<NatsCredentials__Output> {
  try {
    return await rpc.unary<GetNatsCredentialsRequest, NatsCredentials__Output>('GetNatsCredentials', { userPublicKey: user.getPublicKey() }, { timeoutMs: CALL_TIMEOUT_MS });
  } catch (err) {
    throw TributaryError.from(err);
  }
}
