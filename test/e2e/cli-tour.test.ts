import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SiteClient } from '@tributary/client-sdk';
import { encodeSafetensors, sha256Hex } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toyModel, toyTrain } from '../helpers/training.js';

const CLI = fileURLToPath(new URL('../../coordinator/dist/cli/main.js', import.meta.url));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tributary <args>` as a user would, in `cwd`, with the dev stack's environment. */
function tributary(args: string[], env: Record<string, string>, cwd: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function json<T>(r: Result): T {
  const envelope = JSON.parse(r.stdout) as { ok: boolean; result: T; error?: unknown };
  if (!envelope.ok) throw new Error(`command failed: ${r.stdout}`);
  return envelope.result;
}

describe('the CLI tour of the README, through the real binary', () => {
  let dir: string;
  let dev: ChildProcess;
  let env: Record<string, string> = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-tour-'));
    dev = spawn(process.execPath, [CLI, 'dev', '--dir', join(dir, 'dev'), '--grpc-listen', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const ready = await new Promise<string>((resolve, reject) => {
      let out = '';
      dev.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out);
      });
      dev.on('exit', (code) => reject(new Error(`dev exited with ${code}`)));
    });
    const started = JSON.parse(ready) as { ok: boolean; result: { exports: Record<string, string> } };
    env = started.result.exports;
  });

  afterAll(async () => {
    if (dev && dev.exitCode === null) {
      const exited = new Promise((r) => dev.once('exit', r));
      dev.kill('SIGINT');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('walks from keygen to an exported model version', async () => {
    const keygen = await tributary(['keygen', 'hospital-a', '--out', 'hospital-a.key'], env, dir);
    expect(keygen.code, keygen.stderr).toBe(0);
    expect((await stat(join(dir, 'hospital-a.key'))).mode & 0o777).toBe(0o600);

    await writeFile(join(dir, 'init.safetensors'), encodeSafetensors(toyModel()));
    const create = await tributary(
      ['federation', 'create', 'churn', '--initial-model', 'init.safetensors', '--strategy', 'fedavg', '--rounds', '2', '--min-sites', '1', '--deadline', '5m'],
      env,
      dir,
    );
    expect(create.code, create.stderr + create.stdout).toBe(0);

    const add = await tributary(['site', 'add', 'hospital-a', '--public-key', 'hospital-a.key', '--federation', 'churn'], env, dir);
    expect(add.code, add.stderr + add.stdout).toBe(0);

    const invite = await tributary(['site', 'invite', '--federation', 'churn', '--name', 'hospital-b', '--ttl', '24h', '--json'], env, dir);
    expect(invite.code, invite.stderr).toBe(0);
    expect(json<{ token: string }>(invite).token).toMatch(/^trib_inv_/);

    const sites = await tributary(['site', 'list', '--federation', 'churn', '--json'], env, dir);
    expect(json<Array<{ name: string }>>(sites).map((s) => s.name)).toEqual(['hospital-a']);

    const show = await tributary(['federation', 'show', 'churn'], env, dir);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('churn');
    expect(show.stdout).toContain('hospital-a');

    // hospital-a trains with the SDK, using the key file keygen wrote.
    const site = await SiteClient.connect({ coordinator: env['TRIBUTARY_COORDINATOR'] ?? '', nats: env['TRIBUTARY_NATS'] ?? '', key: join(dir, 'hospital-a.key') });
    const controller = new AbortController();
    const training = site.participate('churn', async (task) => ({ weights: toyTrain(task.model, site.site, task.round), numExamples: 8 }), {
      signal: controller.signal,
    });

    const start = await tributary(['run', 'start', 'churn', '--watch'], env, dir);
    controller.abort();
    await training;
    await site.close();
    expect(start.code, start.stderr + start.stdout).toBe(0);
    const runId = /[0-9a-f]{16}/.exec(start.stdout)?.[0] ?? '';
    expect(runId).not.toBe('');

    const status = await tributary(['run', 'status', runId, '--json'], env, dir);
    expect(json<{ run: { status: string } }>(status).run.status).toBe('RUN_STATUS_FINISHED');

    const rounds = await tributary(['rounds', 'list', runId], env, dir);
    expect(rounds.code).toBe(0);
    expect(rounds.stdout.match(/COMMITTED/g)).toHaveLength(2);

    const versions = await tributary(['model', 'versions', 'churn', '--json'], env, dir);
    const list = json<Array<{ version: number; sha256: string }>>(versions);
    expect(list.map((v) => v.version)).toEqual([1, 2, 3]);

    const exported = await tributary(['model', 'export', 'churn', '--version', '3', '--out', 'churn-v3.safetensors'], env, dir);
    expect(exported.code, exported.stderr).toBe(0);
    expect(sha256Hex(await readFile(join(dir, 'churn-v3.safetensors')))).toBe(list[2]?.sha256);

    const revoke = await tributary(['site', 'revoke', 'hospital-a'], env, dir);
    expect(revoke.code).toBe(0);
    const after = await tributary(['site', 'list', '--json'], env, dir);
    expect(json<Array<{ name: string; status: string }>>(after).find((s) => s.name === 'hospital-a')?.status).toContain('REVOKED');
  });

  it('creates a federation for every built-in strategy, with its options', async () => {
    const cases: Array<[string, string[]]> = [
      ['fedavg', []],
      ['fedprox', ['mu=0.1']],
      ['fedavgm', ['server_momentum=0.9']],
      ['fedadam', ['eta=0.05', 'beta_1=0.8']],
      ['fedyogi', ['tau=0.01']],
      ['fedadagrad', ['eta=0.2']],
      ['trimmed-mean', ['beta=0.2']],
      ['median', []],
      ['krum', ['f=1']],
      ['multi-krum', ['f=1', 'm=2']],
      ['ensemble', ['weight_by=metric:accuracy', 'top_k=2']],
    ];
    for (const [strategy, options] of cases) {
      const name = `s-${strategy}`;
      const args = ['federation', 'create', name, '--initial-model', 'init.safetensors', '--strategy', strategy];
      for (const o of options) args.push('--strategy-option', o);
      const created = await tributary(args, env, dir);
      expect(created.code, `${strategy}: ${created.stdout}${created.stderr}`).toBe(0);
      const shown = json<{ settings: { strategy: string; strategyOptions: Record<string, string> } }>(await tributary(['federation', 'show', name, '--json'], env, dir));
      expect(shown.settings.strategy).toBe(strategy);
      for (const o of options) {
        const [key, value] = o.split('=') as [string, string];
        expect(shown.settings.strategyOptions[key], `${strategy} ${key}`).toBe(value);
      }
    }
  });

  it('refuses an unknown strategy option, naming it', async () => {
    const bad = await tributary(['federation', 'create', 'bad-opt', '--initial-model', 'init.safetensors', '--strategy', 'fedadam', '--strategy-option', 'beta_9=1', '--json'], env, dir);
    expect(bad.code).toBe(1);
    const envelope = JSON.parse(bad.stdout) as { ok: boolean; error: { code: string; message: string } };
    expect(envelope.error.message).toContain('beta_9');
    const unknown = await tributary(['federation', 'create', 'bad-strategy', '--initial-model', 'init.safetensors', '--strategy', 'fedmagic', '--json'], env, dir);
    expect((JSON.parse(unknown.stdout) as { error: { message: string } }).error.message).toMatch(/unknown strategy "fedmagic" \(known: .*fedadam/);
  });

  it('prints one error envelope with a code and a hint when a command fails', async () => {
    const missing = await tributary(['federation', 'show', 'no-such-federation', '--json'], env, dir);
    expect(missing.code).toBe(1);
    const envelope = JSON.parse(missing.stdout) as { ok: boolean; error: { code: string; message: string; hint: string } };
    expect(envelope.ok).toBe(false);
    expect(envelope.error.code).toBe('NOT_FOUND');
    expect(envelope.error.message).toContain('no-such-federation');
  });
});
