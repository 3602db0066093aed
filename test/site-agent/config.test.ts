import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeSafetensors, writeKeyFile } from '@tributary/proto';
import { addSite, sitesWatching, startStack, type Stack } from '../helpers/stack.js';
import { toyModel } from '../helpers/training.js';
import { readSiteConfig } from '../../client-sdk/src/site-agent/site-config.js';
import { FIXTURES, startSiteAgent, type SiteAgentProcess } from './helpers.js';

const TRAIN_PY = join(FIXTURES, 'train.py');

describe('tributary-site run --config', () => {
  let work: string;

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'tributary-site-config-'));
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function configFile(text: string): Promise<string> {
    const file = join(work, 'site.yaml');
    await writeFile(file, text);
    return file;
  }

  describe('with a coordinator', () => {
    let stack: Stack;
    const agents: SiteAgentProcess[] = [];

    beforeEach(async () => {
      stack = await startStack();
      await stack.admin.createFederation({ name: 'toy', settings: { strategy: 'fedavg', rounds: 2, minSites: 1, roundDeadlineSeconds: 60 }, initialModel: encodeSafetensors(toyModel()) });
      // The key file sits beside the config file, which names it relative to itself.
      await writeKeyFile(join(work, 'py-site.key'), await addSite(stack, 'py-site', ['toy']));
    });
    afterEach(async () => {
      for (const a of agents.splice(0)) a.child.kill('SIGKILL');
      await stack?.stop();
    });

    function agent(args: string[]): SiteAgentProcess {
      // Started elsewhere than the config file's directory, so relative paths must follow the file.
      const a = startSiteAgent(args, { OUT_DIR: work });
      agents.push(a);
      return a;
    }

    it('takes every setting and the command from the file, and exits 0 when the run finishes', async () => {
      const file = await configFile(
        [
          'federation: toy',
          `coordinator: "${stack.coordinator.address}"`,
          `nats: [${stack.nats.url}]`,
          'key: py-site.key',
          'work_dir: tasks',
          'keep_task_dirs: true',
          `command: [python3, ${TRAIN_PY}]`,
          '',
        ].join('\n'),
      );
      const a = agent(['run', '--config', file]);
      const run = await stack.admin.startRun('toy');
      expect(await a.exited).toBe(0);
      expect(a.stdout()).toContain(`run ${run.id} FINISHED: 2 tasks, 2 accepted, 0 refused, 0 failed`);
      expect(a.stderr()).toMatch(new RegExp(`in ${join(work, 'tasks').replace(/[/.]/g, '\\$&')}/\\S+; running python3`));
    });

    it('lets flags win over the file', async () => {
      const file = await configFile(['federation: not-mine', `coordinator: "${stack.coordinator.address}"`, `nats: ${stack.nats.url}`, 'key: py-site.key', 'max_tasks: 5', 'command: [sh, -c, "exit 1"]', ''].join('\n'));
      const a = agent(['run', '--config', file, '--federation', 'toy', '--max-tasks', '1', '--', 'python3', TRAIN_PY]);
      await stack.admin.startRun('toy');
      expect(await a.exited).toBe(0);
      expect(a.stdout()).toContain('done: 1 tasks, 1 accepted, 0 refused, 0 failed');
    });

    it('exits with 3 when the run fails, naming why', async () => {
      await stack.admin.createFederation({ name: 'pair', settings: { strategy: 'fedavg', rounds: 1, minSites: 2, roundDeadlineSeconds: 5 }, initialModel: encodeSafetensors(toyModel()) });
      const key = await addSite(stack, 'lonely', ['pair']);
      // Selected too, but never connected: the round misses its quorum at the deadline.
      await addSite(stack, 'absent', ['pair']);
      await writeKeyFile(join(work, 'lonely.key'), key);
      const file = await configFile(['federation: pair', `coordinator: "${stack.coordinator.address}"`, `nats: ${stack.nats.url}`, 'key: lonely.key', `command: [python3, ${TRAIN_PY}]`, ''].join('\n'));
      const a = agent(['run', '--config', file]);
      // The round's deadline is short: the agent must be watching before the run starts.
      await sitesWatching(stack, 1);
      const run = await stack.admin.startRun('pair');
      expect(await a.exited).toBe(3);
      expect(a.stdout()).toMatch(new RegExp(`run ${run.id} FAILED \\(round 1 failed: QUORUM_NOT_MET: .*\\): 1 tasks`));
    });
  });

  it('refuses an unknown key, naming it and the known ones, and starts nothing', async () => {
    const file = await configFile('federation: toy\nmax_task: 3\n');
    const a = startSiteAgent(['run', '--config', file]);
    expect(await a.exited).toBe(2);
    expect(a.stderr()).toContain(`Error (USAGE): invalid config file ${file}: unknown key "max_task" (known keys: federation, coordinator, nats, key, max_tasks, work_dir, keep_task_dirs, verbose, json, tls_ca, tls_cert, tls_key, command)`);
  });

  it('reads the TLS files of the file relative to its directory', async () => {
    const file = await configFile('tls_ca: certs/ca.pem\ntls_cert: certs/site.pem\ntls_key: /etc/site/site-key.pem\n');
    const config = await readSiteConfig(file, '/');
    expect(config).toMatchObject({ tlsCa: join(work, 'certs', 'ca.pem'), tlsCert: join(work, 'certs', 'site.pem'), tlsKey: '/etc/site/site-key.pem' });
  });

  it('refuses a client certificate without its key, before connecting', async () => {
    const file = await configFile(`federation: toy\ncoordinator: "127.0.0.1:1"\nnats: nats://127.0.0.1:1\nkey: site.key\ntls_cert: site.pem\ncommand: ["true"]\n`);
    const a = startSiteAgent(['run', '--config', file]);
    expect(await a.exited).toBe(2);
    expect(a.stderr()).toContain('Error (USAGE): --tls-cert and --tls-key go together');
  });

  it('refuses a value of the wrong type, naming the key', async () => {
    const file = await configFile('command: python3 train.py\n');
    const a = startSiteAgent(['run', '--config', file]);
    expect(await a.exited).toBe(2);
    expect(a.stderr()).toContain('"command" must be a non-empty list of strings, e.g. [python3, train.py], got "python3 train.py"');
  });

  it('names the settings still missing after the flags, the environment and the file', async () => {
    const file = await configFile('federation: toy\nkey: site.key\n');
    const a = startSiteAgent(['run', '--config', file, '--json']);
    expect(await a.exited).toBe(2);
    expect(JSON.parse(a.stdout())).toEqual({
      ok: false,
      error: { code: 'USAGE', message: 'missing --coordinator, --nats: give them as flags, in TRIBUTARY_* variables, or in the --config file' },
    });
  });

  it('refuses a file that is not YAML', async () => {
    const file = await configFile('federation: [toy\n');
    const a = startSiteAgent(['run', '--config', file]);
    expect(await a.exited).toBe(2);
    expect(a.stderr()).toMatch(/invalid config file .*site\.yaml: not valid YAML/);
  });
});
