import { Reason, TributaryError } from '@tributary/proto';
import { connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from 'nats';

/** The subject the full resolver listens on for account JWT updates (system account only). */
export const CLAIMS_UPDATE_SUBJECT = '$SYS.REQ.CLAIMS.UPDATE';

export interface ClaimsUpdaterOptions {
  readonly servers: readonly string[];
  /** A system-account user's creds file content. */
  readonly systemCreds: Uint8Array;
  readonly tls?: ConnectionOptions['tls'];
  /** How long to wait for a server's answer. @default 5000 */
  readonly timeoutMs?: number;
}

/** A server's answer to an account update. */
export interface ClaimsUpdateAck {
  readonly account: string;
  /** The server that answered first (the others learn it through the system account). */
  readonly server: string;
  readonly message: string;
}

/**
 * Pushes account JWTs to the servers over a system-account connection. The servers apply them at
 * once: a revoked user's live connection is closed, later connects with its JWT are refused.
 * The connection opens on the first push and stays open, so a revocation does not wait for a
 * connect.
 */
export class ClaimsUpdater {
  private nc: Promise<NatsConnection> | undefined;

  constructor(private readonly opts: ClaimsUpdaterOptions) {}

  async push(accountJwt: string): Promise<ClaimsUpdateAck> {
    let reply;
    try {
      const nc = await this.connection();
      reply = await nc.request(CLAIMS_UPDATE_SUBJECT, new TextEncoder().encode(accountJwt), { timeout: this.opts.timeoutMs ?? 5000 });
    } catch (err) {
      throw TributaryError.of(Reason.CLAIMS_UPDATE_FAILED, `could not push the account JWT to ${this.opts.servers.join(', ')}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    return parseAnswer(new TextDecoder().decode(reply.data));
  }

  async close(): Promise<void> {
    const pending = this.nc;
    this.nc = undefined;
    if (pending === undefined) return;
    const nc = await pending.catch(() => undefined);
    await nc?.close();
  }

  private connection(): Promise<NatsConnection> {
    if (this.nc === undefined) {
      const opened = connect({
        servers: [...this.opts.servers],
        authenticator: credsAuthenticator(this.opts.systemCreds),
        name: 'tributary-authority',
        maxReconnectAttempts: -1,
        ...(this.opts.tls !== undefined ? { tls: this.opts.tls } : {}),
      });
      // A failed connect is not kept: the next push tries again.
      opened.catch(() => {
        if (this.nc === opened) this.nc = undefined;
      });
      this.nc = opened;
    }
    return this.nc;
  }
}

/** `{"data":{"account","code":200,"message"},"server":{...}}`, or `{"error":{"code","description"}}`. */
function parseAnswer(text: string): ClaimsUpdateAck {
  let body: { data?: { account?: string; code?: number; message?: string }; error?: { code?: number; description?: string }; server?: { name?: string } };
  try {
    body = JSON.parse(text) as typeof body;
  } catch (err) {
    throw TributaryError.of(Reason.CLAIMS_UPDATE_FAILED, `the server answered the account update with ${JSON.stringify(text.slice(0, 200))}`, { code: 'INTERNAL', cause: err });
  }
  if (body.error !== undefined || body.data?.code !== 200) {
    const detail = body.error?.description ?? body.data?.message ?? text.slice(0, 200);
    throw TributaryError.of(Reason.CLAIMS_UPDATE_REFUSED, `the server refused the account JWT: ${detail}`, { retryable: false });
  }
  return { account: body.data.account ?? '', server: body.server?.name ?? '', message: body.data.message ?? '' };
}
