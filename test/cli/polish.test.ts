import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors, formatPublicKey, generateSigningKey, writeKeyFile } from '@tributary/proto';
import { envelopeOf, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { addSite, startStack, type Stack } from '../helpers/stack.js';
import { toyModel } from '../helpers/training.js';

describe('CLI messages a newcomer meets', () => {
  let stack: Stack;
  let dir: string;
  let env: Record<string, string>;

  const tributary = (args: string[]): Promise<CliResult> => runCli(args, { cwd: dir, env, withoutOuterSettings: true, timeoutMs: 120_000 });

  beforeAll(async () => {
    stack = await startStack();
    dir = await mkdtemp(join(tmpdir(), 'tributary-polish-'));
    await writeKeyFile(join(dir, 'admin.key'), stack.adminKey);
    env = { TRIBUTARY_COORDINATOR: stack.coordinator.address, TRIBUTARY_KEY: join(dir, 'admin.key') };
    await writeFile(join(dir, 'init.safetensors'), encodeSafetensors(toyModel()));
    await stack.admin.createFederation({ name: 'churn', initialModel: encodeSafetensors(toyModel()), settings: { minSites: 1, roundDeadlineSeconds: 1, rounds: 1 } });
    await stack.admin.createFederation({ name: 'slow', initialModel: encodeSafetensors(toyModel()), settings: { minSites: 1, roundDeadlineSeconds: 600, rounds: 1 } });
    // A member that never trains: rounds of churn miss their quorum at the deadline.
    await addSite(stack, 'idle', ['churn', 'slow']);
  });

  afterAll(async () => {
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('points `run start` of a missing federation at the federation list', async () => {
    const { error } = envelopeOf(await tributary(['run', 'start', 'nope', '--json']));
    expect(error?.code).toBe('NOT_FOUND');
    expect(error?.hint).toContain('tributary federation list');
  });

  it('points `site add --federation` of a missing federation at the federation list', async () => {
    const key = formatPublicKey(generateSigningKey('x').publicKey);
    const { error } = envelopeOf(await tributary(['site', 'add', 'clinic-z', '--public-key', key, '--federation', 'nope', '--json']));
    expect(error?.hint).toContain('tributary federation list');
  });

  it("points `model export` of a missing version at the federation's model list", async () => {
    const { error } = envelopeOf(await tributary(['model', 'export', 'churn', '--version', '99', '--out', 'v99.safetensors', '--json']));
    expect(error?.code).toBe('NOT_FOUND');
    expect(error?.hint).toContain('tributary model list churn');
  });

  it('fails `site list --federation` of a missing federation instead of printing "No sites."', async () => {
    const r = await tributary(['site', 'list', '--federation', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error (NOT_FOUND): federation "nope" does not exist');
  });

  it('prints an error envelope with the run for `run start --watch --json` of a run that fails', async () => {
    const r = await tributary(['run', 'start', 'churn', '--watch', '--json']);
    expect(r.code).toBe(1);
    const envelope = envelopeOf<{ status: string }>(r);
    expect(envelope.ok).toBe(false);
    expect(envelope.error?.message).toContain('FAILED');
    expect(envelope.result?.status).toBe('RUN_STATUS_FAILED');
  });

  it('says on Ctrl-C during a watch which run goes on, by its id, without calling it an error', async () => {
    const run = await stack.admin.startRun('slow');
    const watch = await startCli(['run', 'watch', run.id], { cwd: dir, env, withoutOuterSettings: true });
    const exited = new Promise<number | null>((resolve) => watch.child.once('exit', (code) => resolve(code)));
    watch.child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(watch.output()).toContain(`Stopped watching run ${run.id}`);
    expect(watch.output()).toContain(`tributary run status ${run.id}`);
    expect(watch.output()).not.toContain('<run-id>');
    expect(watch.output()).not.toContain('Error');
    await stack.admin.stopRun(run.id);
  });

  it('names the flags the user typed, not the fields of the protocol', async () => {
    const r = await tributary(['federation', 'create', 'sampled', '--initial-model', 'init.safetensors', '--min-sites', '2', '--sample-count', '1', '--json']);
    const { error } = envelopeOf(r);
    expect(error?.message).toContain('--sample-count must be at least --min-sites');
    expect(error?.message).not.toContain('sample_count');
  });

  it('names --site-idle-timeout and --heartbeat-interval when the idle timeout is shorter than two heartbeats', async () => {
    const r = await tributary(['federation', 'create', 'hasty', '--initial-model', 'init.safetensors', '--heartbeat-interval', '10s', '--site-idle-timeout', '15s', '--json']);
    const { error } = envelopeOf(r);
    expect(error?.code).toBe('INVALID_ARGUMENT');
    expect(error?.message).toContain('--site-idle-timeout (seconds) must be 0 or at least twice --heartbeat-interval (seconds)');
  });

  it('refuses an --on-site-error other than ignore or fail before calling the coordinator', async () => {
    const { error } = envelopeOf(await tributary(['federation', 'create', 'lenient', '--initial-model', 'init.safetensors', '--on-site-error', 'retry', '--json']));
    expect(error?.message).toContain('--on-site-error');
    expect(error?.message).toContain('expected ignore or fail');
  });

  it('names --ttl when an invitation would live too long', async () => {
    const { error } = envelopeOf(await tributary(['site', 'invite', '--federation', 'churn', '--ttl', '400d', '--json']));
    expect(error?.message).toContain('--ttl');
    expect(error?.message).not.toContain('ttl_seconds');
  });

  it('says a directory given as --initial-model is a directory', async () => {
    await mkdir(join(dir, 'models'), { recursive: true });
    const { error } = envelopeOf(await tributary(['federation', 'create', 'from-dir', '--initial-model', 'models', '--json']));
    expect(error?.message).toContain('is a directory');
    expect(error?.message).not.toContain('EISDIR');
  });

  it('says an empty --initial-model is empty, and how to make one', async () => {
    await writeFile(join(dir, 'empty.safetensors'), '');
    const { error } = envelopeOf(await tributary(['federation', 'create', 'from-empty', '--initial-model', 'empty.safetensors', '--json']));
    expect(error?.message).toContain('is empty');
    expect(error?.hint).toContain('tributary model init');
  });

  it('keeps an existing file on `model export` unless told --force, as keygen does', async () => {
    await writeFile(join(dir, 'mine.safetensors'), 'mine');
    const refused = envelopeOf(await tributary(['model', 'export', 'churn', '--out', 'mine.safetensors', '--json']));
    expect(refused.error?.code).toBe('ALREADY_EXISTS');
    expect(await readFile(join(dir, 'mine.safetensors'), 'utf8')).toBe('mine');
    const forced = await tributary(['model', 'export', 'churn', '--out', 'mine.safetensors', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
  });

  it('documents a data directory in use as DATA_DIR_IN_USE, the reason the coordinator gives', async () => {
    const operations = await readFile(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    expect(operations).toContain('Error (DATA_DIR_IN_USE)');
    expect(operations).not.toContain('Error (INTERNAL): Database failed to open');
  });
});
