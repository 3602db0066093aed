import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors, encodeSafetensors, readKeyFile } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeOf, runCli, startCli, type CliProcess, type CliResult } from '../helpers/cli.js';
import { eventually } from '../helpers/stack.js';
import { toyModel } from '../helpers/training.js';

function json<T>(r: CliResult): T {
  const envelope = envelopeOf<T>(r);
  if (!envelope.ok) throw new Error(`command failed: ${r.stdout}`);
  return envelope.result as T;
}

describe('federation settings through the real binary', () => {
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
    await writeFile(join(dir, 'init.safetensors'), encodeSafetensors(toyModel()));
  });

  afterAll(async () => {
    await dev?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the key id of the coordinator key, kept in the dev data directory', async () => {
    expect(coordinatorKeyId).toBe((await readKeyFile(join(dir, 'dev', 'data', 'coordinator.key'))).keyId);
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
  }, 240_000);

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

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The shell blocks of the README's "CLI tour" section, in order. */
async function tourBlocks(): Promise<string[]> {
  const readme = await readFile(join(REPO, 'README.md'), 'utf8');
  const start = readme.indexOf('## CLI tour');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

/** The environment of a fresh shell: HOME in a temp dir, no Tributary settings from outside. */
function shellEnv(home: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRIBUTARY_')));
  // Other suites may hold 127.0.0.1:7400; the stack takes a free port and writes it to its env file.
  return { ...env, HOME: home, TRIBUTARY_GRPC_LISTEN: '127.0.0.1:0' };
}

function bash(script: string, home: string): Promise<CliResult> {
  return new Promise((done) => {
    const child = spawn('bash', ['-c', `set -euo pipefail\n${script}`], { cwd: REPO, env: shellEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

const DEV_COMMAND = 'tributary dev --dir ~/.tributary/dev';

/**
 * The README's tour, block by block; `tls` starts the stack with `dev --tls` and changes nothing
 * else: the second shell learns the CA from the env file, as it learns the addresses.
 */
const tour = (tls: boolean) => async (): Promise<void> => {
  const blocks = await tourBlocks();
  const [written = '', shellBlock = '', ...steps] = blocks;
  const devBlock = tls ? written.replace(DEV_COMMAND, `${DEV_COMMAND} --tls`) : written;
  let home = '';
  let dev: ChildProcess | undefined;
  let devOutput = '';

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'tributary-readme-tour-'));
    // The first terminal: the stack runs until interrupted, in its own process group.
    dev = spawn('bash', ['-c', devBlock], { cwd: REPO, env: shellEnv(home), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    dev.stdout?.on('data', (d: Buffer) => (devOutput += d.toString()));
    dev.stderr?.on('data', (d: Buffer) => (devOutput += d.toString()));
    // It prints its summary after writing its env file.
    await eventually(() => (devOutput.includes('Ctrl-C stops both.') ? true : undefined), 60_000);
    await access(join(home, '.tributary', 'dev', 'env'));
  }, 90_000);

  afterAll(async () => {
    if (dev?.pid !== undefined && dev.exitCode === null) {
      const exited = new Promise((r) => dev?.once('exit', r));
      process.kill(-dev.pid, 'SIGINT');
      await exited;
    }
    await rm(home, { recursive: true, force: true });
  });

  it('starts the stack in one block and sets up the second shell in the next', () => {
    expect(written).toContain(DEV_COMMAND);
    expect(shellBlock).toContain('. ~/.tributary/dev/env');
    expect(steps.length).toBeGreaterThanOrEqual(4);
    expect(devOutput).toContain('Tributary dev environment is up.');
  });

  it.each(steps.map((block, i) => [i + 1, block.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#')) ?? '', block]))(
    'runs step %i ("%s" and the rest of its block) without an error',
    async (_step, _first, block) => {
      const r = await bash(`${shellBlock}\n${block}`, home);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stderr).not.toContain('DEP0123');
    },
    120_000,
  );

  it('trains the federation to a finished run and exports its latest model', async () => {
    const r = await bash(`${shellBlock}\ntributary run status "$(tributary run list iris --quiet | head -n 1)" --json`, home);
    expect(JSON.parse(r.stdout).result.run.status).toBe('RUN_STATUS_FINISHED');
    const final = decodeSafetensors(await readFile(join(home, 'tributary-tour', 'iris-final.safetensors')));
    expect(Object.keys(final.tensors).sort()).toEqual(['b', 'w']);
  });

  it("keeps the site's key in the site's own directory, readable by its owner only", async () => {
    expect((await stat(join(home, 'tributary-tour', 'hospital-a', 'site.key'))).mode & 0o777).toBe(0o600);
  });

  it('writes nothing into the repository', async () => {
    const r = await bash('git status --porcelain --untracked-files=all -- . | grep -E "\\.(key|safetensors)$|tributary-dev|tributary-tour" || true', home);
    expect(r.stdout).toBe('');
  });

  if (tls) {
    it('serves the tour over TLS, the CA coming from the env file', async () => {
      expect(devOutput).toContain('gRPC and NATS, certificates signed by the local CA');
      const r = await bash(`${shellBlock}\necho "$TRIBUTARY_TLS_CA"`, home);
      expect(r.stdout.trim()).toBe(join(home, '.tributary', 'dev', 'tls', 'ca.pem'));
    });
  }
};

describe('the CLI tour of the README, run as written', tour(false));

describe('the CLI tour of the README, run as written against dev --tls', tour(true));
