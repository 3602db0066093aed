import { SiteClient } from '@tributary/client-sdk';
import { encodeSafetensors, tensor, writeKeyFile, type UpdateStatus__Output } from '@tributary/proto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.js';
import { envelopeOf, runCli } from '../helpers/cli.js';
import { addSite, eventually, startStack, type Stack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

/** Screenshots land here, beside other test output (ignored by git). */
const OUTPUT_DIR = fileURLToPath(new URL('../../test-output/', import.meta.url));
const SITES = ['mail-a', 'mail-b', 'mail-c'];
const STEPS = 20;

describe('the web dashboard in a real browser', () => {
  let stack: Stack;
  let dir: string;
  let browser: Browser;
  let page: Page;
  let loginUrl = '';
  let runId = '';
  let refusal: UpdateStatus__Output | undefined;
  let origin = '';
  const stopSites = new AbortController();
  let siteLoops: Promise<unknown> = Promise.resolve();
  let clients: SiteClient[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    stack = await startStack({ httpPort: 0 });
    dir = await mkdtemp(join(tmpdir(), 'tributary-dashboard-'));
    await writeKeyFile(join(dir, 'admin.key'), stack.adminKey);
    await stack.admin.createFederation({ name: 'mail', settings: { rounds: 3, minSites: 3, roundDeadlineSeconds: 60 }, initialModel: encodeSafetensors(toyModel()) });
    const keys = await Promise.all(SITES.map((name) => addSite(stack, name, ['mail'])));
    // A revoked member, which the pages mark.
    await addSite(stack, 'mail-gone', ['mail']);
    await stack.admin.revokeSite('mail-gone');
    clients = await Promise.all(keys.map((key) => SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key })));
    // mail-c trains round 1 only once an update of the wrong shape, signed with its key, was refused.
    let releaseMailC = (): void => undefined;
    const mailCMayTrain = new Promise<void>((resolve) => (releaseMailC = resolve));
    siteLoops = Promise.all(
      clients.map((client, i) =>
        client.participate(
          'mail',
          async (task) => {
            if (client.site === 'mail-c' && task.round === 1) await mailCMayTrain;
            let loss = 0;
            for (let step = 1; step <= STEPS; step++) {
              loss = (i + 1) / (step + 20 * (task.round - 1));
              task.log({ loss }, step + STEPS * (task.round - 1));
            }
            // As the quickstart does: the round's loss is the sites' reported losses, averaged.
            return { weights: toyTrain(task.model, client.site, task.round), numExamples: 10 * (i + 1), metrics: { loss } };
          },
          { signal: stopSites.signal },
        ),
      ),
    );
    runId = (await stack.admin.startRun('mail')).id;
    const raw = await stack.rawSite();
    try {
      await eventually(async () => (await stack.admin.getRun(runId)).currentRound === 1);
      const wrongShape = { w: tensor('F32', [3, 2], new Float32Array(6)), b: tensor('F32', [3], new Float32Array(3)) };
      refusal = await raw.send({ key: keys[2]!, site: 'mail-c', federation: 'mail', runId, round: 1, weights: wrongShape, numExamples: 5 });
    } finally {
      releaseMailC();
      await raw.close();
    }
    const cli = await runCli(['dashboard', '--json'], { env: { TRIBUTARY_COORDINATOR: stack.coordinator.address, TRIBUTARY_KEY: join(dir, 'admin.key') } });
    loginUrl = envelopeOf<{ url: string }>(cli).result?.url ?? '';
    origin = new URL(loginUrl).origin;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    stopSites.abort();
    await siteLoops.catch(() => undefined);
    await Promise.all(clients.map((c) => c.close()));
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints a one-time login URL on the coordinator host from `tributary dashboard`', () => {
    expect(loginUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/login\?token=[A-Za-z0-9_-]{43}$/);
  });

  it('answers 401 to every page and view without a session', async () => {
    for (const path of ['/', '/assets/app.js', '/api/federations', `/api/runs/${runId}`, `/api/runs/${runId}/events`]) {
      const res = await fetch(`${origin}${path}`);
      expect(res.status, path).toBe(401);
    }
  });

  it('logs in through the token and lists the federation with its members', async () => {
    await page.goto(loginUrl);
    await page.getByRole('link', { name: 'mail', exact: true }).waitFor();
    const row = page.locator('tr', { hasText: 'mail-a' });
    await expect(row.textContent()).resolves.toContain('fedavg');
    await expect(row.textContent()).resolves.toContain('mail-b, mail-c');
  });

  it('marks a revoked member of the federation', async () => {
    const row = page.locator('tr', { hasText: 'mail-a' });
    await expect(row.textContent()).resolves.toContain('mail-c, mail-gone (revoked)');
  });

  it('refuses a login token used a second time', async () => {
    const res = await fetch(loginUrl, { redirect: 'manual' });
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('shows the run with a committed round, the sites it accepted, and charted points', async () => {
    await page.goto(`${origin}/#/run/${runId}`);
    const committed = page.locator('td .state-COMMITTED').first();
    await committed.waitFor({ timeout: 45_000 });
    const firstRound = page.locator('tbody tr', { has: page.locator('.state-COMMITTED') }).first();
    const text = (await firstRound.textContent()) ?? '';
    for (const site of SITES) expect(text).toContain(site);
    const sites = page.locator('[data-chart="Per site (by step)"]');
    // Locators, not evaluated strings: the page's CSP refuses eval, even to a test.
    await page.locator('[data-chart="Per site (by step)"][data-points]:not([data-points="0"])').waitFor();
    expect(Number(await sites.getAttribute('data-points'))).toBeGreaterThan(0);
    await expect(sites.locator('canvas').count()).resolves.toBe(1);
  });

  it('charts the round metric on the global chart once a round is committed', async () => {
    const global = page.locator('[data-chart="Global (by round)"]');
    await page.locator('[data-chart="Global (by round)"][data-points]:not([data-points="0"])').waitFor({ timeout: 45_000 });
    expect(Number(await global.getAttribute('data-points'))).toBeGreaterThan(0);
    await expect(global.locator('canvas').count()).resolves.toBe(1);
    await expect(page.locator('.chart', { has: global }).locator('.chart-empty').isHidden()).resolves.toBe(true);
  });

  it('shows why the coordinator refused an update, with its message on hover', async () => {
    expect(refusal?.state).toBe('UPDATE_STATE_REFUSED');
    expect(refusal?.reason).toBe('SCHEMA_MISMATCH');
    const firstRound = page.locator('main tbody tr').first();
    const refused = firstRound.locator('td').nth(5).locator('.refusal');
    await expect(refused.textContent()).resolves.toBe(`mail-c: ${refusal?.reason}`);
    await expect(refused.getAttribute('title')).resolves.toBe(refusal?.message);
  });

  it('shows each round\'s duration', async () => {
    const firstRound = page.locator('main tbody tr', { has: page.locator('.state-COMMITTED') }).first();
    await expect(firstRound.locator('td').nth(2).textContent()).resolves.toMatch(/^\d+\.\d s$/);
  });

  it('saves a screenshot of the run page', async () => {
    await page.locator('td .state-COMMITTED').nth(2).waitFor({ timeout: 45_000 });
    await mkdir(OUTPUT_DIR, { recursive: true });
    const file = join(OUTPUT_DIR, 'dashboard-run.png');
    await page.screenshot({ path: file, fullPage: true });
    expect((await stat(file)).size).toBeGreaterThan(10_000);
  });

  it('charts the global points of a finished run when its page is opened afresh', async () => {
    await eventually(async () => (await stack.admin.getRun(runId)).status === 'RUN_STATUS_FINISHED');
    await page.goto(`${origin}/#/federations`);
    await page.goto(`${origin}/#/run/${runId}`);
    await page.reload();
    await page.locator('[data-chart="Global (by round)"][data-points="3"]').waitFor({ timeout: 45_000 });
  });

  it('lists the federation\'s model versions with parent, contributing sites and digests as the AdminService gives them', async () => {
    const versions = await stack.admin.listModelVersions('mail');
    expect(versions.length).toBe(4);
    await page.goto(`${origin}/#/federation/mail`);
    await page.getByRole('heading', { name: 'Model versions' }).waitFor();
    const table = page.locator('main table').nth(1);
    for (const v of versions) {
      const row = table.locator('tbody tr').filter({ has: page.locator('td:first-child', { hasText: new RegExp(`^v${v.version}$`) }) });
      const cells = row.locator('td');
      await expect(cells.nth(1).textContent()).resolves.toBe(Number(v.parentVersion) > 0 ? `v${v.parentVersion}` : '—');
      await expect(cells.nth(2).textContent()).resolves.toBe(v.runId === '' ? 'initial' : `${v.runId} #${v.round}`);
      await expect(cells.nth(4).locator('span').getAttribute('title')).resolves.toBe(v.sha256);
      const contributions = cells.nth(3).locator('.contribution');
      const shown = await Promise.all((await contributions.all()).map(async (c) => ({ text: (await c.textContent()) ?? '', digest: (await c.getAttribute('title')) ?? '' })));
      expect(shown.map((c) => c.text.split(' ')[0]).sort()).toEqual(v.contributions.map((c) => c.site).sort());
      expect(shown.map((c) => c.digest).sort()).toEqual(v.contributions.map((c) => c.payloadSha256).sort());
    }
  });

  it('lists sites with their key fingerprints and status', async () => {
    await page.goto(`${origin}/#/sites`);
    await page.getByRole('heading', { name: 'Sites' }).waitFor();
    const row = page.locator('main tbody tr', { hasText: 'mail-b' });
    await row.waitFor();
    await expect(row.textContent()).resolves.toMatch(/APPROVED/);
    await expect(page.locator('main tbody tr', { hasText: 'mail-gone' }).textContent()).resolves.toMatch(/REVOKED/);
    await expect(row.locator('.mono').first().textContent()).resolves.toMatch(/^([0-9a-f]{4}:){7}[0-9a-f]{4}$/);
  });

  it('shows when each site was last seen and whether it is connected', async () => {
    // A site watching a federation with no run stays connected whatever the run above does.
    await stack.admin.createFederation({ name: 'idle', initialModel: encodeSafetensors(toyModel()) });
    const watcher = await SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key: await addSite(stack, 'idle-site', ['idle']) });
    const stopWatching = new AbortController();
    const watching = watcher.participate('idle', async (task) => ({ weights: task.model, numExamples: 1 }), { signal: stopWatching.signal });
    try {
      await eventually(async () => (await stack.admin.listSites()).find((s) => s.name === 'idle-site' && s.connected));
      // The page may show the sites already: load it again for the site added since.
      await page.goto(`${origin}/#/sites`);
      await page.reload();
      await page.locator('main tbody tr', { hasText: 'idle-site' }).waitFor();
      await expect(page.locator('main thead').textContent()).resolves.toMatch(/last seen.*connected/i);
      const idle = page.locator('main tbody tr', { hasText: 'idle-site' });
      await expect(idle.locator('.last-seen').textContent()).resolves.toMatch(/^\d+s ago$/);
      await expect(idle.locator('.connected').textContent()).resolves.toBe('yes');
      await expect(page.locator('main tbody tr', { hasText: 'mail-c' }).locator('.last-seen').textContent()).resolves.toMatch(/^\d+[smhd] ago$/);
    } finally {
      stopWatching.abort();
      await watching.catch(() => undefined);
      await watcher.close();
    }
  });

  it('runs its pages without a script error or a blocked resource', () => {
    expect(pageErrors).toEqual([]);
  });

  it('sends a content security policy without inline scripts or other origins', async () => {
    const res = await fetch(`${origin}/api/federations`);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('refuses anything but reading', async () => {
    const res = await fetch(`${origin}/api/federations`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(405);
  });
});
