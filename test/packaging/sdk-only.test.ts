import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodeSafetensors } from '@tributary/proto';
import { installTarballs, packWorkspaces, runProgram } from '../helpers/packages.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { toyModel } from '../helpers/training.js';

// Packing, installing from the registry's cache and running a real site on a busy machine.
const LONG = 300_000;

/** A training script for `tributary-site run`: sends the global model back unchanged. */
const TRAIN_SCRIPT = `
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const dir = process.env.TRIBUTARY_TASK_DIR;
copyFileSync(join(dir, 'model.safetensors'), join(dir, 'update.safetensors'));
writeFileSync(join(dir, 'result.json'), JSON.stringify({ num_examples: 10 }));
`;

/** Every directory named `name` under `dir`, at any depth. */
async function directoriesNamed(dir: string, name: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isDirectory() && e.name === name).map((e) => join(e.parentPath, e.name));
}

describe('the site SDK installed without the coordinator package', () => {
  let work: string;
  let app: string;
  let site: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'tributary-sdk-only-'));
    const packed = await packWorkspaces(['proto', 'client-sdk'], work);
    app = join(work, 'app');
    await installTarballs(app, [...packed.values()].map((p) => join(work, p.filename)));
    site = join(app, 'node_modules', '.bin', 'tributary-site');
  }, LONG);
  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('installs @tributary/proto and @tributary/client-sdk and nothing of @tributary/coordinator', async () => {
    expect((await readdir(join(app, 'node_modules', '@tributary'))).sort()).toEqual(['client-sdk', 'proto']);
    const coordinators = (await directoriesNamed(join(app, 'node_modules'), 'coordinator')).filter((d) => d.includes('@tributary'));
    expect(coordinators).toEqual([]);
    await expect(readdir(join(app, 'node_modules', '.bin'))).resolves.not.toContain('tributary');
  });

  it('cannot load @tributary/coordinator from the installed project', async () => {
    const r = await runProgram(process.execPath, ['--input-type=module', '-e', "await import('@tributary/coordinator')"], app);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('ERR_MODULE_NOT_FOUND');
  });

  describe('a site run from there against a coordinator started from the repository', () => {
    let stack: Stack;

    beforeEach(async () => {
      stack = await startStack();
    });
    afterEach(async () => {
      await stack?.stop();
    });

    it('makes its key with tributary-site keygen, enrolls with an invitation and trains a round whose update is accepted', async () => {
      await stack.admin.createFederation({ name: 'sdk-only', settings: { strategy: 'fedavg', rounds: 1, minSites: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(toyModel()) });
      const keyFile = join(app, 'clinic.key');
      const keygen = await runProgram(site, ['keygen', 'clinic', '--key', keyFile, '--json'], app);
      expect(keygen.status, keygen.stderr).toBe(0);
      const { token } = await stack.admin.createInvitation({ federations: ['sdk-only'], siteName: 'clinic' });
      const enroll = await runProgram(site, ['enroll', '--token', token, '--key', keyFile, '--coordinator', stack.coordinator.address, '--json'], app);
      expect(enroll.status, enroll.stderr).toBe(0);
      expect(JSON.parse(enroll.stdout)).toMatchObject({ ok: true, result: { site: 'clinic', federations: ['sdk-only'], keyCreated: false } });

      await writeFile(join(app, 'train.mjs'), TRAIN_SCRIPT);
      const agent = runProgram(site, ['run', '--federation', 'sdk-only', '--coordinator', stack.coordinator.address, '--nats', stack.nats.url, '--key', keyFile, '--max-tasks', '1', '--json', '--', process.execPath, 'train.mjs'], app);
      const started = await stack.admin.startRun('sdk-only');
      const ended = await stack.admin.waitForRun(started.id);
      expect(ended.status).toBe('RUN_STATUS_FINISHED');
      const rounds = await stack.admin.listRounds(started.id);
      expect(rounds.map((r) => r.accepted.map((u) => u.site))).toEqual([['clinic']]);
      const r = await agent;
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, result: { tasks: 1, accepted: 1 } });
    }, LONG);
  });
});
