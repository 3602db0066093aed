import { describe, expect, it } from 'vitest';
import { DashboardSessions } from '../../coordinator/src/dashboard/sessions.js';

const LIMITS = { loginTtlMs: 60_000, sessionTtlMs: 600_000, maxPendingLogins: 2, maxSessions: 2 };

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('dashboard logins and sessions', () => {
  it('exchanges a login token for a session once', () => {
    const sessions = new DashboardSessions(LIMITS);
    const { token } = sessions.createLogin('admin-key');
    const first = sessions.redeem(token);
    expect(first?.session.keyId).toBe('admin-key');
    expect(sessions.redeem(token)).toBeUndefined();
  });

  it('finds a session by its cookie value and nothing else', () => {
    const sessions = new DashboardSessions(LIMITS);
    const { token } = sessions.createLogin('admin-key');
    const redeemed = sessions.redeem(token);
    expect(sessions.session(redeemed?.id)?.keyId).toBe('admin-key');
    expect(sessions.session(token)).toBeUndefined();
    expect(sessions.session('x'.repeat(43))).toBeUndefined();
    expect(sessions.session('not a token')).toBeUndefined();
  });

  it('refuses a login token after it expired', () => {
    const c = clock();
    const sessions = new DashboardSessions(LIMITS, c.now);
    const { token } = sessions.createLogin('admin-key');
    c.advance(LIMITS.loginTtlMs);
    expect(sessions.redeem(token)).toBeUndefined();
  });

  it('ends a session when it expires', () => {
    const c = clock();
    const sessions = new DashboardSessions(LIMITS, c.now);
    const redeemed = sessions.redeem(sessions.createLogin('admin-key').token);
    c.advance(LIMITS.sessionTtlMs);
    expect(sessions.session(redeemed?.id)).toBeUndefined();
  });

  it('refuses more waiting logins than its bound with RESOURCE_EXHAUSTED', () => {
    const sessions = new DashboardSessions(LIMITS);
    sessions.createLogin('a');
    sessions.createLogin('b');
    expect(() => sessions.createLogin('c')).toThrow(expect.objectContaining({ reason: 'RESOURCE_EXHAUSTED' }));
  });

  it('makes room for a new session by ending the oldest', () => {
    const sessions = new DashboardSessions(LIMITS);
    const ids = ['a', 'b', 'c'].map((key) => sessions.redeem(sessions.createLogin(key).token)?.id);
    expect(sessions.session(ids[0])).toBeUndefined();
    expect(sessions.session(ids[1])?.keyId).toBe('b');
    expect(sessions.session(ids[2])?.keyId).toBe('c');
  });
});
