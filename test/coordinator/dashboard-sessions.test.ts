import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DashboardSessions } from '../../coordinator/src/dashboard/sessions.js';
import { LevelStateStore } from '../../coordinator/src/state/index.js';

const LIMITS = { loginTtlMs: 60_000, sessionTtlMs: 600_000, maxPendingLogins: 2, maxSessions: 2 };

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('dashboard logins and sessions', () => {
  let dir: string;
  let state: LevelStateStore;
  const c = clock();
  const open = () => DashboardSessions.open(state.dashboardSessionTable(), LIMITS, c.now);
  const storedCount = async () => (await state.dashboardSessionTable().keys().all()).length;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-dashboard-sessions-'));
    state = new LevelStateStore(dir);
    await state.open();
  });

  afterEach(async () => {
    await state.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('exchanges a login token for a session once', async () => {
    const sessions = await open();
    const { token } = sessions.createLogin('admin-key');
    const first = await sessions.redeem(token);
    expect(first?.session.keyId).toBe('admin-key');
    await expect(sessions.redeem(token)).resolves.toBeUndefined();
  });

  it('finds a session by its cookie value and nothing else', async () => {
    const sessions = await open();
    const { token } = sessions.createLogin('admin-key');
    const redeemed = await sessions.redeem(token);
    expect((await sessions.session(redeemed?.secret))?.keyId).toBe('admin-key');
    await expect(sessions.session(token)).resolves.toBeUndefined();
    await expect(sessions.session('x'.repeat(43))).resolves.toBeUndefined();
    await expect(sessions.session('not a token')).resolves.toBeUndefined();
  });

  it('refuses a login token after it expired', async () => {
    const sessions = await open();
    const { token } = sessions.createLogin('admin-key');
    c.advance(LIMITS.loginTtlMs);
    await expect(sessions.redeem(token)).resolves.toBeUndefined();
  });

  it('ends a session when it expires, and forgets it on disk', async () => {
    const sessions = await open();
    const redeemed = await sessions.redeem(sessions.createLogin('admin-key').token);
    c.advance(LIMITS.sessionTtlMs);
    await expect(sessions.session(redeemed?.secret)).resolves.toBeUndefined();
    expect(await storedCount()).toBe(0);
  });

  it('refuses more waiting logins than its bound with RESOURCE_EXHAUSTED', async () => {
    const sessions = await open();
    sessions.createLogin('a');
    sessions.createLogin('b');
    expect(() => sessions.createLogin('c')).toThrow(expect.objectContaining({ reason: 'RESOURCE_EXHAUSTED' }));
  });

  it('makes room for a new session by ending the oldest, on disk too', async () => {
    const sessions = await open();
    const secrets: Array<string | undefined> = [];
    for (const key of ['a', 'b', 'c']) {
      secrets.push((await sessions.redeem(sessions.createLogin(key).token))?.secret);
      c.advance(1);
    }
    await expect(sessions.session(secrets[0])).resolves.toBeUndefined();
    expect((await sessions.session(secrets[1]))?.keyId).toBe('b');
    expect((await sessions.session(secrets[2]))?.keyId).toBe('c');
    expect(await storedCount()).toBe(2);
  });

  it('keeps a session across a reopen of the store', async () => {
    const redeemed = await (async () => {
      const sessions = await open();
      return sessions.redeem(sessions.createLogin('admin-key').token);
    })();
    await state.close();
    state = new LevelStateStore(dir);
    await state.open();
    const reopened = await open();
    expect((await reopened.session(redeemed?.secret))?.keyId).toBe('admin-key');
  });

  it('stores only a digest of the session secret', async () => {
    const sessions = await open();
    const redeemed = await sessions.redeem(sessions.createLogin('admin-key').token);
    const keys = await state.dashboardSessionTable().keys().all();
    const values = JSON.stringify(await state.dashboardSessionTable().values().all());
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toBe(redeemed?.secret);
    expect(values).not.toContain(redeemed?.secret ?? '-');
  });

  it('purges expired sessions when it opens', async () => {
    const sessions = await open();
    await sessions.redeem(sessions.createLogin('admin-key').token);
    c.advance(LIMITS.sessionTtlMs);
    await open();
    expect(await storedCount()).toBe(0);
  });

  it('refuses a session that expired while the store was closed', async () => {
    const first = await open();
    const redeemed = await first.redeem(first.createLogin('admin-key').token);
    c.advance(LIMITS.sessionTtlMs);
    await expect((await open()).session(redeemed?.secret)).resolves.toBeUndefined();
  });
});
