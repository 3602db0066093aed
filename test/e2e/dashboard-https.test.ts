import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { AdminClient } from '@tributary/coordinator';
import { encodeSafetensors, readKeyFile } from '@tributary/proto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.js';
import { envelopeOf, runCli, startCli, type CliProcess } from '../helpers/cli.js';
import { toyModel } from '../helpers/training.js';

/** `tributary dev --tls` makes its certificates with openssl; without it this suite is skipped. */
const opensslAvailable = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

/** Base64 SHA-256 of a certificate's SubjectPublicKeyInfo: what Chromium pins with --ignore-certificate-errors-spki-list. */
function spkiPin(pem: string): string {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** A plain-HTTP GET: its status, or the error the connection ended with. */
function plainGet(url: string, cookie: string): Promise<{ status: number } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpGet(url, { headers: { cookie }, timeout: 10_000 }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

describe.skipIf(!opensslAvailable)('the dashboard over HTTPS in a real browser', () => {
  let dir: string;
  let dev: CliProcess | undefined;
  let admin: AdminClient | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  let loginUrl = '';
  let origin = '';
  let leafPem = '';
  const pageErrors: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-dashboard-https-'));
    const devDir = join(dir, 'dev');
    dev = await startCli(['dev', '--tls', '--dir', devDir, '--grpc-listen', '127.0.0.1:0', '--json']);
    const started = JSON.parse(dev.firstLine) as { ok: boolean; result: { exports: Record<string, string> } };
    const exports = started.result.exports;
    const caFile = exports['TRIBUTARY_TLS_CA'] ?? '';
    admin = new AdminClient({ address: exports['TRIBUTARY_COORDINATOR'] ?? '', key: await readKeyFile(exports['TRIBUTARY_KEY'] ?? ''), credentials: grpc.credentials.createSsl(await readFile(caFile)) });
    await admin.createFederation({ name: 'secure', initialModel: encodeSafetensors(toyModel()) });
    const cli = await runCli(['dashboard', '--json'], { env: exports });
    loginUrl = envelopeOf<{ url: string }>(cli).result?.url ?? '';
    origin = new URL(loginUrl).origin;
    // The leaf the dashboard serves is the coordinator's certificate from the dev TLS set-up.
    leafPem = await readFile(join(devDir, 'tls', 'coordinator.pem'), 'utf8');
    browser = await launchChromium([`--ignore-certificate-errors-spki-list=${spkiPin(leafPem)}`]);
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    admin?.close();
    await dev?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints an https:// login URL from `tributary dashboard`', () => {
    expect(loginUrl).toMatch(/^https:\/\/(localhost|127\.0\.0\.1):\d+\/login\?token=[A-Za-z0-9_-]{43}$/);
  });

  it('logs in over https and shows the federation from the coordinator', async () => {
    await page.goto(loginUrl);
    await page.getByRole('link', { name: 'secure', exact: true }).waitFor();
    expect(new URL(page.url()).protocol).toBe('https:');
    await page.getByRole('link', { name: 'secure', exact: true }).click();
    await page.getByRole('heading', { name: 'Federation secure' }).waitFor();
    await expect(page.locator('.facts').textContent()).resolves.toContain('fedavg');
  });

  it('sets the session cookie Secure and HttpOnly', async () => {
    const cookie = (await context.cookies(origin)).find((c) => c.name === 'trib_dashboard');
    expect(cookie).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict' });
  });

  it('serves the pinned leaf, which is not trusted without the pin', async () => {
    const other = await launchChromium();
    try {
      const refused = await other.newPage().then((p) => p.goto(loginUrl).then(() => 'loaded', (err: Error) => err.message));
      expect(refused).toMatch(/ERR_CERT_AUTHORITY_INVALID/);
    } finally {
      await other.close();
    }
  });

  it('answers nothing to plain HTTP on its port, even with a valid session cookie', async () => {
    const cookie = (await context.cookies(origin)).find((c) => c.name === 'trib_dashboard');
    const plain = await plainGet(`http://127.0.0.1:${new URL(origin).port}/api/federations`, `trib_dashboard=${cookie?.value ?? ''}`);
    // No HTTP answer at all (no redirect, no error page): the TLS listener drops the connection.
    expect(plain).toEqual({ error: 'ECONNRESET' });
  });

  it('fails a browser sent to the same port over plain HTTP', async () => {
    const other = await context.newPage();
    try {
      const outcome = await other.goto(`http://127.0.0.1:${new URL(origin).port}/`).then(() => 'loaded', (err: Error) => err.message);
      expect(outcome).toMatch(/net::ERR_/);
    } finally {
      await other.close();
    }
  });

  it('runs its pages without a script error or a blocked resource', () => {
    expect(pageErrors).toEqual([]);
  });
});
