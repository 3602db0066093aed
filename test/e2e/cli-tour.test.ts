import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SiteClient } from '@tributary/client-sdk';
import { encodeSafetensors, readKeyFile, sha256Hex } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeOf, runCli, startCli, type CliProcess, type CliResult } from '../helpers/cli.js';
import { eventually } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

function json<T>(r: CliResult): T {
  const envelope = envelopeOf<T>(r);
  if (!envelope.ok) throw new Error(`command failed: ${r.stdout}`);
  return envelope.result as T;
}

describe('the CLI tour of the README, through the real binary', () => {
  let dir: string;
  let dev: CliProcess | undefined;
  let env: Record<string, string> = {};
  /** As `dev --json` printed it. */
  let coordinatorKeyId = '';

  /** Runs `tributary <args>` as a user would, in the tour's directory, with the dev stack's environment. */
  const tributary = (args: string[]): Promise<CliResult> => runCli(args, { env, cwd: dir });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-tour-'));
    dev = await startCli(['dev', '--dir', join(dir, 'dev'), '--grpc-listen', '127.0.0.1:0', '--json']);
    const started = JSON.parse(dev.firstLine) as { ok: boolean; result: { exports: Record<string, string>; coordinatorKeyId: string } };
    env = started.result.exports;
    coordinatorKeyId = started.result.coordinatorKeyId;
  });

  afterAll(async () => {
    await dev?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the key id of the coordinator key, kept in the dev data directory', async () => {
    expect(coordinatorKeyId).toBe((await readKeyFile(join(dir, 'dev', 'data', 'coordinator.key'))).keyId);
  });

  it('walks from keygen to an exported model version', async () => {
    const keygen = await tributary(['keygen', 'hospital-a', '--out', 'hospital-a.key']);
    expect(keygen.code, keygen.stderr).toBe(0);
    expect((await stat(join(dir, 'hospital-a.key'))).mode & 0o777).toBe(0o600);

    await writeFile(join(dir, 'init.safetensors'), encodeSafetensors(toyModel()));
    const create = await tributary([
      'federation', 'create', 'churn', '--initial-model', 'init.safetensors', '--strategy', 'fedavg', '--rounds', '2', '--min-sites', '1', '--deadline', '5m',
    ]);
    expect(create.code, create.stderr + create.stdout).toBe(0);

    const add = await tributary(['site', 'add', 'hospital-a', '--public-key', 'hospital-a.key', '--federation', 'churn']);
    expect(add.code, add.stderr + add.stdout).toBe(0);

    const invite = await tributary(['site', 'invite', '--federation', 'churn', '--name', 'hospital-b', '--ttl', '24h', '--json']);
    expect(invite.code, invite.stderr).toBe(0);
    expect(json<{ token: string }>(invite).token).toMatch(/^trib_inv_/);

    const sites = await tributary(['site', 'list', '--federation', 'churn', '--json']);
    expect(json<Array<{ name: string }>>(sites).map((s) => s.name)).toEqual(['hospital-a']);

    const show = await tributary(['federation', 'show', 'churn']);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('churn');
    expect(show.stdout).toContain('hospital-a');

    // hospital-a trains with the SDK, using the key file keygen wrote.
    const site = await SiteClient.connect({ coordinator: env['TRIBUTARY_COORDINATOR'] ?? '', nats: env['TRIBUTARY_NATS'] ?? '', key: join(dir, 'hospital-a.key') });
    const controller = new AbortController();
    const training = site.participate('churn', async (task) => ({ weights: toyTrain(task.model, site.site, task.round), numExamples: 8 }), {
      signal: controller.signal,
    });

    const start = await tributary(['run', 'start', 'churn', '--watch']);
    controller.abort();
    await training;
    await site.close();
    expect(start.code, start.stderr + start.stdout).toBe(0);
    const runId = /[0-9a-f]{16}/.exec(start.stdout)?.[0] ?? '';
    expect(runId).not.toBe('');

    const status = await tributary(['run', 'status', runId, '--json']);
    expect(json<{ run: { status: string } }>(status).run.status).toBe('RUN_STATUS_FINISHED');

    const rounds = await tributary(['round', 'list', runId]);
    expect(rounds.code).toBe(0);
    expect(rounds.stdout.match(/COMMITTED/g)).toHaveLength(2);

    const versions = await tributary(['model', 'list', 'churn', '--json']);
    const list = json<Array<{ version: number; sha256: string }>>(versions);
    expect(list.map((v) => v.version)).toEqual([1, 2, 3]);

    const exported = await tributary(['model', 'export', 'churn', '--version', '3', '--out', 'churn-v3.safetensors']);
    expect(exported.code, exported.stderr).toBe(0);
    expect(sha256Hex(await readFile(join(dir, 'churn-v3.safetensors')))).toBe(list[2]?.sha256);

    // The tracking store logs rounds in the background: the run shows up once they are in.
    const found = await eventually(async () => {
      const search = json<{ runs: Array<{ runId: string }> }>(await tributary(['run', 'search', 'churn', '--filter', 'metrics.sites_accepted >= 1', '--json']));
      return search.runs.length > 0 ? search.runs : undefined;
    });
    expect(found.map((r) => r.runId)).toEqual([runId]);

    const revoke = await tributary(['site', 'revoke', 'hospital-a']);
    expect(revoke.code).toBe(0);
    const after = await tributary(['site', 'list', '--json']);
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
      const created = await tributary(args);
      expect(created.code, `${strategy}: ${created.stdout}${created.stderr}`).toBe(0);
      const shown = json<{ settings: { strategy: string; strategyOptions: Record<string, string> } }>(await tributary(['federation', 'show', name, '--json']));
      expect(shown.settings.strategy).toBe(strategy);
      for (const o of options) {
        const [key, value] = o.split('=') as [string, string];
        expect(shown.settings.strategyOptions[key], `${strategy} ${key}`).toBe(value);
      }
    }
  });

  it('refuses an unknown strategy option, naming it', async () => {
    const bad = await tributary(['federation', 'create', 'bad-opt', '--initial-model', 'init.safetensors', '--strategy', 'fedadam', '--strategy-option', 'beta_9=1', '--json']);
    expect(bad.code).toBe(1);
    expect(envelopeOf(bad).error?.message).toContain('beta_9');
    const unknown = await tributary(['federation', 'create', 'bad-strategy', '--initial-model', 'init.safetensors', '--strategy', 'fedmagic', '--json']);
    expect(envelopeOf(unknown).error?.message).toMatch(/unknown strategy "fedmagic" \(known: .*fedadam/);
  });

  it('prints one error envelope with a code and a hint when a command fails', async () => {
    const missing = await tributary(['federation', 'show', 'no-such-federation', '--json']);
    expect(missing.code).toBe(1);
    const envelope = envelopeOf(missing);
    expect(envelope.ok).toBe(false);
    expect(envelope.error?.code).toBe('NOT_FOUND');
    expect(envelope.error?.message).toContain('no-such-federation');
  });
});
