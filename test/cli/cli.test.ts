import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatPublicKey, readKeyFile } from '@tributary/proto';
import { freePort } from '../../coordinator/src/dev/nats-server.js';
import { runCli, type CliResult } from '../helpers/cli.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `tributary <args>` in the temp dir, with no TRIBUTARY_* settings from the outside. */
function tributary(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { cwd: dir, env, withoutOuterSettings: true, timeoutMs: 30_000 });
}

function envelope(stdout: string): unknown {
  const lines = stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0] ?? '');
}

describe('tributary CLI', () => {
  it('answers a usage error with --json by one error envelope and exit code 2', async () => {
    const out = await tributary(['site', 'list', '--json', '--no-such-flag']);
    expect(out.code).toBe(2);
    expect(envelope(out.stdout)).toEqual({
      ok: false,
      error: { code: 'USAGE', message: "unknown option '--no-such-flag'", hint: 'Run `tributary site list --help` for usage.' },
    });
  });

  it('prints a usage error as "Error (CODE): message" and a hint, without a stack trace', async () => {
    const out = await tributary(['site', 'add', 'clinic-a']);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toBe(
      "Error (USAGE): required option '--public-key <key>' not specified\nHint: Run `tributary site add --help` for usage.\n",
    );
  });

  it('treats an invalid option value as a usage error', async () => {
    const out = await tributary(['federation', 'create', 'churn', '--initial-model', 'm.safetensors', '--deadline', '5 minutes', '--json']);
    expect(out.code).toBe(2);
    expect(envelope(out.stdout)).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('invalid --deadline "5 minutes"') } });
  });

  it('reports an unreachable coordinator in the --json envelope with exit code 1', async () => {
    expect((await tributary(['keygen', 'admin'])).code).toBe(0);
    const address = `127.0.0.1:${await freePort()}`;
    const out = await tributary(['federation', 'list', '--json'], { TRIBUTARY_COORDINATOR: address });
    expect(out.code).toBe(1);
    const result = envelope(out.stdout) as { ok: boolean; error: { code: string; message: string; hint: string } };
    expect(result.ok).toBe(false);
    expect(result.error.code).toBe('UNAVAILABLE');
    expect(result.error.message).toContain(`cannot reach the coordinator at ${address}`);
    expect(result.error.hint).toContain('tributary serve');
    expect(out.stderr).toBe('');
  });

  it('says how to create a key when the key file is missing', async () => {
    const out = await tributary(['run', 'list', '--key', 'missing.key']);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`Error (NOT_FOUND): key file ${join(dir, 'missing.key')} does not exist`);
    expect(out.stderr).toContain('Hint: Create an admin key with `tributary keygen admin`');
  });

  it('keygen writes a 0600 key file and prints its key id and public key', async () => {
    const out = await tributary(['keygen', 'clinic-a', '--out', 'keys/clinic-a.key']);
    expect(out.code).toBe(0);
    const file = join(dir, 'keys', 'clinic-a.key');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const key = await readKeyFile(file);
    expect(key.name).toBe('clinic-a');
    expect(out.stdout).toContain(key.keyId);
    expect(out.stdout).toContain(formatPublicKey(key.publicKey));
  });

  it('keygen --json returns the key id, public key and file', async () => {
    const out = await tributary(['keygen', 'admin', '--json']);
    expect(out.code).toBe(0);
    const key = await readKeyFile(join(dir, 'admin.key'));
    expect(envelope(out.stdout)).toEqual({
      ok: true,
      result: { name: 'admin', keyId: key.keyId, publicKey: formatPublicKey(key.publicKey), file: join(dir, 'admin.key') },
    });
  });

  it('keygen refuses to replace a key file unless --force', async () => {
    expect((await tributary(['keygen', 'admin'])).code).toBe(0);
    const first = await readKeyFile(join(dir, 'admin.key'));
    const again = await tributary(['keygen', 'admin', '--json']);
    expect(again.code).toBe(1);
    expect(envelope(again.stdout)).toMatchObject({ ok: false, error: { code: 'ALREADY_EXISTS', hint: expect.stringContaining('--force') } });
    expect((await readKeyFile(join(dir, 'admin.key'))).keyId).toBe(first.keyId);
    expect((await tributary(['keygen', 'admin', '--force'])).code).toBe(0);
    expect((await readKeyFile(join(dir, 'admin.key'))).keyId).not.toBe(first.keyId);
  });

  it('keygen refuses a name that is not a valid name', async () => {
    const out = await tributary(['keygen', 'Bad Name']);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/^Error \(INVALID_ARGUMENT\): invalid key name "Bad Name"/);
  });
});
