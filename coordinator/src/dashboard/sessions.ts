import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { Reason, TributaryError } from '@tributary/proto';

export interface DashboardSessionLimits {
  /** How long a login token may wait to be exchanged. @default 60_000 */
  readonly loginTtlMs: number;
  /** How long a session cookie stays valid. @default 1_800_000 (30 minutes) */
  readonly sessionTtlMs: number;
  /** Login tokens waiting to be exchanged, at most. @default 32 */
  readonly maxPendingLogins: number;
  /** Live sessions, at most; the oldest goes first when a new one needs room. @default 64 */
  readonly maxSessions: number;
}

export const DASHBOARD_SESSION_DEFAULTS: DashboardSessionLimits = {
  loginTtlMs: 60_000,
  sessionTtlMs: 30 * 60_000,
  maxPendingLogins: 32,
  maxSessions: 64,
};

export interface DashboardSession {
  readonly id: string;
  /** Key id of the principal that asked for the login token. */
  readonly keyId: string;
  readonly expiresAtMs: number;
}

/** Tokens are 256 random bits in base64url: 43 characters. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/**
 * One-time login tokens and the sessions they open. Tokens and session ids are kept only as
 * SHA-256 digests, so nothing in memory can be replayed; both expire and both are bounded, so
 * a caller without a valid token costs a map lookup and nothing more.
 */
export class DashboardSessions {
  private readonly logins = new Map<string, { keyId: string; expiresAtMs: number }>();
  private readonly sessions = new Map<string, DashboardSession>();

  constructor(
    private readonly limits: DashboardSessionLimits = DASHBOARD_SESSION_DEFAULTS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new login token for `keyId`, valid once until `expiresAtMs`. */
  createLogin(keyId: string): { token: string; expiresAtMs: number } {
    this.forgetExpired();
    if (this.logins.size >= this.limits.maxPendingLogins) {
      throw TributaryError.of(Reason.RESOURCE_EXHAUSTED, `${this.limits.maxPendingLogins} dashboard logins are waiting to be used; use one, or wait a minute`);
    }
    const token = randomBytes(32).toString('base64url');
    const expiresAtMs = this.now() + this.limits.loginTtlMs;
    this.logins.set(digest(token), { keyId, expiresAtMs });
    return { token, expiresAtMs };
  }

  /** Exchanges a login token for a session, once; undefined if it is unknown, used or expired. */
  redeem(token: string): { id: string; session: DashboardSession } | undefined {
    if (!TOKEN.test(token)) return undefined;
    const key = digest(token);
    const login = this.logins.get(key);
    if (login === undefined) return undefined;
    this.logins.delete(key);
    if (login.expiresAtMs <= this.now()) return undefined;
    this.forgetExpired();
    while (this.sessions.size >= this.limits.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const session = { id: digest(id), keyId: login.keyId, expiresAtMs: this.now() + this.limits.sessionTtlMs };
    this.sessions.set(session.id, session);
    return { id, session };
  }

  /** The live session of a cookie value, or undefined. */
  session(cookie: string | undefined): DashboardSession | undefined {
    if (cookie === undefined || !TOKEN.test(cookie)) return undefined;
    const key = digest(cookie);
    const session = this.sessions.get(key);
    if (session === undefined || !timingSafeEqual(Buffer.from(session.id), Buffer.from(key))) return undefined;
    if (session.expiresAtMs <= this.now()) {
      this.sessions.delete(key);
      return undefined;
    }
    return session;
  }

  get sessionTtlMs(): number {
    return this.limits.sessionTtlMs;
  }

  private forgetExpired(): void {
    const now = this.now();
    for (const [key, login] of this.logins) if (login.expiresAtMs <= now) this.logins.delete(key);
    for (const [key, session] of this.sessions) if (session.expiresAtMs <= now) this.sessions.delete(key);
  }
}

function digest(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}
