import { randomBytes, createHash } from 'node:crypto';
import { Reason, TributaryError } from '@tributary/proto';
import type { Sublevel } from '../state/level-layout.js';
import type { DashboardSessionRecord } from '../state/records.js';

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

/** A session as the state store keeps it, under the SHA-256 of its secret. */
export type StoredDashboardSession = DashboardSessionRecord;

export interface DashboardSession extends StoredDashboardSession {
  /** SHA-256 of the cookie's secret, base64url: the session's name in logs, stores and maps. */
  readonly id: string;
}

/** Tokens are 256 random bits in base64url: 43 characters. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/**
 * One-time login tokens and the sessions they open. Login tokens live a minute, in memory;
 * sessions are kept in the state store too, so a browser stays logged in across a restart.
 * Both are kept only as SHA-256 digests, so nothing in memory or on disk can be replayed; both
 * expire and both are bounded (the oldest session makes room for a new one), so a caller
 * without a valid token costs a map lookup and nothing more.
 */
export class DashboardSessions {
  private readonly logins = new Map<string, { keyId: string; expiresAtMs: number }>();
  /** By id, oldest first. */
  private readonly sessions = new Map<string, DashboardSession>();
  // Evict-then-put runs one at a time, so the bound holds under concurrent logins.
  private writes: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly table: Sublevel<StoredDashboardSession>,
    private readonly limits: DashboardSessionLimits,
    private readonly now: () => number,
  ) {}

  /** Reads the stored sessions, dropping the expired ones and, over the bound, the oldest. */
  static async open(table: Sublevel<StoredDashboardSession>, limits: DashboardSessionLimits = DASHBOARD_SESSION_DEFAULTS, now: () => number = Date.now): Promise<DashboardSessions> {
    const sessions = new DashboardSessions(table, limits, now);
    const stored: DashboardSession[] = [];
    for await (const [id, s] of table.iterator()) stored.push({ id, keyId: s.keyId, createdAtMs: s.createdAtMs, expiresAtMs: s.expiresAtMs });
    stored.sort((a, b) => a.createdAtMs - b.createdAtMs);
    const t = now();
    const live = stored.filter((s) => s.expiresAtMs > t).slice(-limits.maxSessions);
    for (const s of live) sessions.sessions.set(s.id, s);
    const gone = stored.filter((s) => !sessions.sessions.has(s.id));
    if (gone.length > 0) await table.batch(gone.map((s) => ({ type: 'del' as const, key: s.id })));
    return sessions;
  }

  /** A new login token for `keyId`, valid once until `expiresAtMs`. */
  createLogin(keyId: string): { token: string; expiresAtMs: number } {
    this.forgetExpiredLogins();
    if (this.logins.size >= this.limits.maxPendingLogins) {
      throw TributaryError.of(Reason.RESOURCE_EXHAUSTED, `${this.limits.maxPendingLogins} dashboard logins are waiting to be used; use one, or wait a minute`);
    }
    const token = randomBytes(32).toString('base64url');
    const expiresAtMs = this.now() + this.limits.loginTtlMs;
    this.logins.set(digest(token), { keyId, expiresAtMs });
    return { token, expiresAtMs };
  }

  /** Exchanges a login token for a session, once; undefined if it is unknown, used or expired. */
  async redeem(token: string): Promise<{ secret: string; session: DashboardSession } | undefined> {
    if (!TOKEN.test(token)) return undefined;
    const key = digest(token);
    const login = this.logins.get(key);
    if (login === undefined) return undefined;
    this.logins.delete(key);
    if (login.expiresAtMs <= this.now()) return undefined;
    const secret = randomBytes(32).toString('base64url');
    const write = this.writes.catch(() => undefined).then(async () => {
      const now = this.now();
      const gone = [...this.sessions.values()].filter((s) => s.expiresAtMs <= now);
      const live = this.sessions.size - gone.length;
      const evicted = [...this.sessions.values()].filter((s) => s.expiresAtMs > now).slice(0, Math.max(0, live - this.limits.maxSessions + 1));
      const session: DashboardSession = { id: digest(secret), keyId: login.keyId, createdAtMs: now, expiresAtMs: now + this.limits.sessionTtlMs };
      const { id, ...stored } = session;
      // Memory follows the store, never leads it.
      await this.table.batch([...[...gone, ...evicted].map((s) => ({ type: 'del' as const, key: s.id })), { type: 'put' as const, key: id, value: stored }]);
      for (const s of [...gone, ...evicted]) this.sessions.delete(s.id);
      this.sessions.set(id, session);
      return session;
    });
    this.writes = write;
    return { secret, session: await write };
  }

  /** The live session of a cookie value, or undefined. */
  async session(cookie: string | undefined): Promise<DashboardSession | undefined> {
    if (cookie === undefined || !TOKEN.test(cookie)) return undefined;
    const session = this.sessions.get(digest(cookie));
    if (session === undefined) return undefined;
    if (session.expiresAtMs <= this.now()) {
      await this.end(session.id);
      return undefined;
    }
    return session;
  }

  /** Ends a session now (its principal was disabled or lost the privilege). */
  async end(id: string): Promise<void> {
    const write = this.writes.catch(() => undefined).then(async () => {
      await this.table.del(id);
      this.sessions.delete(id);
    });
    this.writes = write;
    await write;
  }

  get sessionTtlMs(): number {
    return this.limits.sessionTtlMs;
  }

  private forgetExpiredLogins(): void {
    const now = this.now();
    for (const [key, login] of this.logins) if (login.expiresAtMs <= now) this.logins.delete(key);
  }
}

function digest(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}
