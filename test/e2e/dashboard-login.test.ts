import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient } from '@tributary/coordinator';
import { generateSigningKey, writeKeyFile, type SigningKey } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeOf, runCli } from '../helpers/cli.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

/** Follows a login URL as a browser would: the session cookie's value, or the refusal's status. */
async function logIn(url: string): Promise<{ status: number; cookie: string | undefined }> {
  const res = await fetch(url, { redirect: 'manual' });
  const cookie = /^trib_dashboard=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
  return { status: res.status, cookie };
}

/** A login for `key`'s holder, as `tributary dashboard` asks for it. */
async function loginUrl(stack: Stack, key: SigningKey): Promise<string> {
  const client = new AdminClient({ address: stack.coordinator.address, key });
  try {
    const login = await client.createDashboardSession();
    return `http://127.0.0.1:${login.httpPort}${login.loginPath}`;
  } finally {
    client.close();
  }
}

/** The status of a dashboard view fetched with the session cookie. */
async function viewStatus(stack: Stack, cookie: string | undefined, path = '/api/federations'): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${stack.coordinator.dashboardPort}${path}`, { headers: { cookie: `trib_dashboard=${cookie ?? ''}` } });
  await res.arrayBuffer();
  return res.status;
}

describe('logging in to the dashboard', () => {
  let stack: Stack;
  let dir: string;
  let cliEnv: Record<string, string>;

  beforeAll(async () => {
    stack = await startStack({ httpPort: 0 }, { natsAuth: false });
    dir = await mkdtemp(join(tmpdir(), 'tributary-dashboard-login-'));
    await writeKeyFile(join(dir, 'admin.key'), stack.adminKey);
    cliEnv = { TRIBUTARY_COORDINATOR: stack.coordinator.address, TRIBUTARY_KEY: join(dir, 'admin.key') };
  });

  afterAll(async () => {
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('`tributary dashboard`', () => {
    it('opens a working login URL with $BROWSER', async () => {
      const script = join(dir, 'browser.sh');
      const opened = join(dir, 'opened-url');
      await writeFile(script, `#!/bin/sh\nprintf '%s' "$1" > '${opened}.tmp' && mv '${opened}.tmp' '${opened}'\n`);
      await chmod(script, 0o700);
      const cli = await runCli(['dashboard'], { env: { ...cliEnv, BROWSER: script } });
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toContain('Opened the dashboard in a browser');
      const url = await eventually(() => readFile(opened, 'utf8').catch(() => undefined));
      const login = await logIn(url);
      expect(login.status).toBe(303);
      const page = await fetch(`${new URL(url).origin}/`, { headers: { cookie: `trib_dashboard=${login.cookie ?? ''}` } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
    });

    it('prints the URL, and opens nothing, with --no-open', async () => {
      const script = join(dir, 'never-run.sh');
      const ran = join(dir, 'never-run');
      await writeFile(script, `#!/bin/sh\ntouch '${ran}'\n`);
      await chmod(script, 0o700);
      const cli = await runCli(['dashboard', '--no-open'], { env: { ...cliEnv, BROWSER: script } });
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toMatch(/http:\/\/127\.0\.0\.1:\d+\/login\?token=[A-Za-z0-9_-]{43}/);
      await expect(readFile(ran)).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('prints the URL with a note when there is no display and no $BROWSER', async () => {
      const cli = await runCli(['dashboard'], { env: { ...cliEnv, BROWSER: '', DISPLAY: '', WAYLAND_DISPLAY: '' } });
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toMatch(/\/login\?token=/);
      expect(cli.stdout).toContain('Not opened in a browser: no display');
    });

    it('prints the URL in its JSON envelope without opening a browser', async () => {
      const cli = await runCli(['dashboard', '--json'], { env: { ...cliEnv, BROWSER: join(dir, 'no-such-browser') } });
      const envelope = envelopeOf<{ url: string; openedWith?: string; note?: string }>(cli);
      expect(envelope.ok).toBe(true);
      expect(envelope.result?.url).toMatch(/\/login\?token=/);
      expect(envelope.result?.openedWith).toBeUndefined();
      expect(envelope.result?.note).toBeUndefined();
    });
  });

  describe('sessions across a coordinator restart', () => {
    it('keeps a browser logged in across a restart on the same data directory', async () => {
      const { cookie } = await logIn(await loginUrl(stack, stack.adminKey));
      expect(await viewStatus(stack, cookie)).toBe(200);
      await stack.stopCoordinator();
      await stack.restartCoordinator();
      expect(await viewStatus(stack, cookie)).toBe(200);
    });

    it('ends the session of a principal disabled while the coordinator was down', async () => {
      const key = generateSigningKey('viewer');
      await stack.admin.addPrincipal({ name: 'viewer', publicKey: key.publicKey });
      await stack.admin.grant({ privilege: 'read', resource: 'federation:*', grantee: 'principal:viewer' });
      const { cookie } = await logIn(await loginUrl(stack, key));
      expect(await viewStatus(stack, cookie)).toBe(200);
      await stack.admin.disablePrincipal('viewer');
      await stack.stopCoordinator();
      await stack.restartCoordinator();
      expect(await viewStatus(stack, cookie)).toBe(401);
    });

    it('ends the session of a principal whose read on every federation is revoked', async () => {
      const key = generateSigningKey('auditor');
      await stack.admin.addPrincipal({ name: 'auditor', publicKey: key.publicKey });
      await stack.admin.grant({ privilege: 'read', resource: 'federation:*', grantee: 'principal:auditor' });
      const { cookie } = await logIn(await loginUrl(stack, key));
      expect(await viewStatus(stack, cookie)).toBe(200);
      await stack.admin.revokeGrant({ privilege: 'read', resource: 'federation:*', grantee: 'principal:auditor' });
      expect(await viewStatus(stack, cookie)).toBe(401);
    });

    it('refuses a made-up session cookie', async () => {
      expect(await viewStatus(stack, 'A'.repeat(43))).toBe(401);
    });
  });
});
