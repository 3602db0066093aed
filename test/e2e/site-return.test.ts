import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors, encodeSafetensors, writeKeyFile } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSite, eventually, startStack, type Stack } from '../helpers/stack.js';
import { toyModel } from '../helpers/training.js';

const SITE_PROCESS = fileURLToPath(new URL('../helpers/site-process.mjs', import.meta.url));
const FEDERATION = 'comeback';
const DELTA = 0.25;

/** Starts the SDK site of `site-process.mjs`; resolves with its stdout once it exits. */
function startSite(env: Record<string, string>): { child: ChildProcess; done: Promise<{ stdout: string; code: number | null; signal: string | null }> } {
  const child = spawn(process.execPath, [SITE_PROCESS], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  const done = new Promise<{ stdout: string; code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ stdout, code, signal })),
  );
  return { child, done };
}

describe('a site that crashes mid-round and comes back with the same key', () => {
  let stack: Stack;
  let work: string;
  let runId: string;
  let firstOut: string;
  let secondOut: string;
  let second: { stdout: string; code: number | null; signal: string | null };

  beforeAll(async () => {
    stack = await startStack();
    work = await mkdtemp(join(tmpdir(), 'tributary-site-return-'));
    await stack.admin.createFederation({ name: FEDERATION, settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 300 }, initialModel: encodeSafetensors(toyModel()) });
    const key = await addSite(stack, 'returner', [FEDERATION]);
    const keyFile = join(work, 'returner.key');
    await writeKeyFile(keyFile, key);
    const env = { COORDINATOR: stack.coordinator.address, NATS: stack.nats.url, KEY_FILE: keyFile, FEDERATION, DELTA: String(DELTA), NUM_EXAMPLES: '10', MAX_TASKS: '1' };
    runId = (await stack.admin.startRun(FEDERATION)).id;

    // The first process takes the task and dies in training: SIGKILL, nothing flushed or closed.
    firstOut = await mkdtemp(join(work, 'first-'));
    const first = startSite({ ...env, OUT_DIR: firstOut, STALL: '1' });
    await eventually(() => (existsSync(join(firstOut, 'training')) ? true : undefined), 60_000);
    first.child.kill('SIGKILL');
    await first.done;

    // The same site, same key, in a new process.
    secondOut = await mkdtemp(join(work, 'second-'));
    second = await startSite({ ...env, OUT_DIR: secondOut }).done;
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('was in training on round 1 when it was killed', async () => {
    expect(await readFile(join(firstOut, 'training'), 'utf8')).toBe('1');
  });

  it('receives the open round task again after the restart', () => {
    expect(existsSync(join(secondOut, '1.safetensors'))).toBe(true);
  });

  it('has its update accepted once', async () => {
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout.trim())).toMatchObject({ accepted: 1, refused: 0 });
    const round = await stack.admin.getRound(runId, 1);
    expect(round.accepted.map((u) => u.site)).toEqual(['returner']);
  });

  it('lets the round commit with the returned site\'s update as the new model', async () => {
    expect((await stack.admin.waitForRun(runId)).status).toBe('RUN_STATUS_FINISHED');
    expect((await stack.admin.getRound(runId, 1)).state).toBe('ROUND_STATE_COMMITTED');
    const sent = decodeSafetensors(await readFile(join(secondOut, '1.safetensors'))).tensors;
    const committed = decodeSafetensors((await stack.admin.downloadModel(FEDERATION, 2)).bytes).tensors;
    for (const [name, t] of Object.entries(sent)) expect(Array.from(committed[name]?.data as Float32Array)).toEqual(Array.from(t.data as Float32Array));
  });
});

describe('a site killed between its payload and its manifest that comes back with the same key', () => {
  let stack: Stack;
  let work: string;
  let runId: string;
  let firstOut: string;
  let secondOut: string;
  let second: { stdout: string; code: number | null; signal: string | null };

  beforeAll(async () => {
    stack = await startStack();
    work = await mkdtemp(join(tmpdir(), 'tributary-site-return-'));
    await stack.admin.createFederation({ name: 'halfway', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 300 }, initialModel: encodeSafetensors(toyModel()) });
    const key = await addSite(stack, 'halfway-site', ['halfway']);
    const keyFile = join(work, 'halfway.key');
    await writeKeyFile(keyFile, key);
    const env = { COORDINATOR: stack.coordinator.address, NATS: stack.nats.url, KEY_FILE: keyFile, FEDERATION: 'halfway', NUM_EXAMPLES: '10', MAX_TASKS: '1' };
    runId = (await stack.admin.startRun('halfway')).id;

    // The first process trains (other weights than the second's), uploads every chunk and dies before its manifest.
    firstOut = await mkdtemp(join(work, 'first-'));
    const first = await startSite({ ...env, OUT_DIR: firstOut, DELTA: '5', DIE_AFTER_PAYLOAD: '1' }).done;
    expect(first.signal).toBe('SIGKILL');

    secondOut = await mkdtemp(join(work, 'second-'));
    second = await startSite({ ...env, OUT_DIR: secondOut, DELTA: String(DELTA) }).done;
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('died after training on round 1', () => {
    expect(existsSync(join(firstOut, '1.safetensors'))).toBe(true);
  });

  it('receives the open round task again and has its new update accepted once', async () => {
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout.trim())).toMatchObject({ accepted: 1, refused: 0 });
    expect((await stack.admin.getRound(runId, 1)).accepted.map((u) => u.site)).toEqual(['halfway-site']);
  });

  it('commits the round from the new update alone: the half-done upload is not folded in', async () => {
    expect((await stack.admin.waitForRun(runId)).status).toBe('RUN_STATUS_FINISHED');
    const sent = decodeSafetensors(await readFile(join(secondOut, '1.safetensors'))).tensors;
    const committed = decodeSafetensors((await stack.admin.downloadModel('halfway', 2)).bytes).tensors;
    for (const [name, t] of Object.entries(sent)) expect(Array.from(committed[name]?.data as Float32Array)).toEqual(Array.from(t.data as Float32Array));
  });
});

