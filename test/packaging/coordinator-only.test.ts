import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installTarballs, packWorkspaces, runProgram } from '../helpers/packages.js';

// Packing and installing from the registry's cache on a busy machine.
const LONG = 300_000;

describe('the admin CLI installed without the site SDK', () => {
  let work: string;
  let app: string;
  let tributary: string;
  /** Only this Node on PATH: no tributary-site of the repository's own install to be found there. */
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'tributary-coordinator-only-'));
    const packed = await packWorkspaces(['proto', 'coordinator'], work);
    app = join(work, 'app');
    await installTarballs(app, [...packed.values()].map((p) => join(work, p.filename)));
    tributary = join(app, 'node_modules', '.bin', 'tributary');
    env = { PATH: dirname(process.execPath), NODE_PATH: '', TRIBUTARY_NATS: 'nats://127.0.0.1:4222' };
  }, LONG);
  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('installs no @tributary/client-sdk', async () => {
    expect((await readdir(join(app, 'node_modules', '@tributary'))).sort()).toEqual(['coordinator', 'proto']);
  });

  it('tributary simulate says the SDK is not installed, with the npm install command as hint', async () => {
    const r = await runProgram(tributary, ['simulate', 'iris', '--sites', '2'], app, env);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^Error \(SITE_AGENT_MISSING\): @tributary\/client-sdk is not installed/m);
    expect(r.stderr).toContain('Hint: Install the site SDK beside the CLI: `npm install @tributary/client-sdk`');
  });

  it('tributary simulate --json prints the same error in its envelope', async () => {
    const r = await runProgram(tributary, ['simulate', 'iris', '--sites', '2', '--json'], app, env);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'SITE_AGENT_MISSING', hint: expect.stringContaining('npm install @tributary/client-sdk') } });
  });
});
