import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SiteClient } from '@tributary/client-sdk';
import { decodeSafetensors, encodeSafetensors, toFloat64, writeKeyFile, type TensorMap } from '@tributary/proto';
import { addSite, eventually, sitesWatching, startStack, type Stack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';
import { FIXTURES, PYTHON_HELPER_DIR, startSiteAgent, type SiteAgentProcess } from './helpers.js';

const TRAIN_PY = join(FIXTURES, 'train.py');
const FEDAVG_PY = join(FIXTURES, 'fedavg.py');
const execFileAsync = promisify(execFile);

describe('tributary-site run', () => {
  let stack: Stack;
  let work: string;
  const agents: SiteAgentProcess[] = [];
  const clients: SiteClient[] = [];

  beforeEach(async () => {
    stack = await startStack();
    work = await mkdtemp(join(tmpdir(), 'tributary-agent-'));
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) a.child.kill('SIGKILL');
    for (const c of clients.splice(0)) await c.close();
    await stack?.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** A federation of the toy model with a Python site run by the agent and a TypeScript site. */
  async function federation(settings: { rounds: number; minSites: number; roundDeadlineSeconds: number }): Promise<{ keyFile: string }> {
    await stack.admin.createFederation({ name: 'toy', settings: { strategy: 'fedavg', ...settings }, initialModel: encodeSafetensors(toyModel()) });
    const py = await addSite(stack, 'py-site', ['toy']);
    const keyFile = join(work, 'py-site.key');
    await writeKeyFile(keyFile, py);
    return { keyFile };
  }

  function agent(keyFile: string, maxTasks: number, modes: string): SiteAgentProcess {
    const a = startSiteAgent(
      ['run', '--federation', 'toy', '--coordinator', stack.coordinator.address, '--nats', stack.nats.url, '--key', keyFile, '--max-tasks', String(maxTasks), '--', 'python3', TRAIN_PY],
      { MODES: modes, OUT_DIR: work },
    );
    agents.push(a);
    return a;
  }

  /** A TypeScript SDK site that trains with toyTrain and records what it sent. */
  async function tsSite(name: string, numExamples: number, maxTasks: number, sent: Map<number, TensorMap>): Promise<{ done: Promise<unknown> }> {
    const key = await addSite(stack, name, ['toy']);
    const client = await SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key });
    clients.push(client);
    const done = client.participate(
      'toy',
      async (task) => {
        const weights = toyTrain(task.model, name, task.round);
        sent.set(task.round, weights);
        return { weights, numExamples };
      },
      { maxTasks },
    );
    return { done };
  }

  it('trains a Python script for three rounds alongside two TypeScript sites, and each committed model is the numpy FedAvg of what the sites sent', async () => {
    const rounds = 3;
    const { keyFile } = await federation({ rounds, minSites: 3, roundDeadlineSeconds: 60 });
    const sentA = new Map<number, TensorMap>();
    const sentB = new Map<number, TensorMap>();
    const tsA = await tsSite('ts-a', 20, rounds, sentA);
    const tsB = await tsSite('ts-b', 70, rounds, sentB);
    const a = agent(keyFile, rounds, 'ok');
    const run = await stack.admin.startRun('toy');
    const ended = await stack.admin.waitForRun(run.id);
    expect(ended.status).toBe('RUN_STATUS_FINISHED');
    expect(await a.exited).toBe(0);
    await Promise.all([tsA.done, tsB.done]);
    expect(a.stdout()).toContain('done: 3 tasks, 3 accepted, 0 refused, 0 failed');
    expect(a.stderr()).toContain('[round 2 train] training round 2 (ok)');

    const committedRounds = await stack.admin.listRounds(run.id);
    expect(committedRounds.map((r) => r.number)).toEqual([1, 2, 3]);
    for (const round of committedRounds) {
      expect(round.accepted.map((u) => u.site).sort()).toEqual(['py-site', 'ts-a', 'ts-b']);
      // What each site sent, as files; the Python site's copy is the one its script wrote.
      const tsFiles = await Promise.all(
        [['ts-a', sentA, 20], ['ts-b', sentB, 70]].map(async ([name, sent, n]) => {
          const file = join(work, `${String(name)}-round-${round.number}.safetensors`);
          await writeFile(file, encodeSafetensors((sent as Map<number, TensorMap>).get(round.number)!));
          return `${file}:${String(n)}`;
        }),
      );
      const expectedFile = join(work, `expected-${round.number}.safetensors`);
      await execFileAsync('python3', [FEDAVG_PY, expectedFile, `${join(work, `round-${round.number}.safetensors`)}:40`, ...tsFiles], { env: { ...process.env, PYTHONPATH: PYTHON_HELPER_DIR } });
      const expected = decodeSafetensors(await readFile(expectedFile)).tensors;
      const committed = decodeSafetensors((await stack.admin.downloadModel('toy', Number(round.committedVersion))).bytes).tensors;
      expect(Object.keys(committed)).toEqual(Object.keys(expected));
      for (const [name, t] of Object.entries(expected)) {
        const got = toFloat64(committed[name]!);
        // The committed model is F32: the float64 mean rounded once.
        expect([...got]).toEqual([...toFloat64(t)].map((v) => Math.fround(v)));
      }
    }
  });

  it('streams the metrics the script logs to the coordinator', async () => {
    const { keyFile } = await federation({ rounds: 1, minSites: 2, roundDeadlineSeconds: 60 });
    const ts = await tsSite('ts-site', 20, 1, new Map());
    const a = agent(keyFile, 1, 'ok');
    const run = await stack.admin.startRun('toy');
    await stack.admin.waitForRun(run.id);
    expect(await a.exited).toBe(0);
    await ts.done;
    const history = await eventually(async () => {
      const h = await stack.admin.getMetricHistory('toy', 'loss', { runId: run.id });
      const points = h.series.find((s) => s.site === 'py-site')?.points ?? [];
      return points.length >= 3 ? points : undefined;
    });
    expect(history.map((p) => Number(p.step))).toEqual([0, 1, 2]);
    expect(history.map((p) => p.value)).toEqual([1, 0.5, 1 / 3]);
  });

  it('publishes nothing for a script that crashes, times out, writes no output, the wrong shape or NaN, and goes on', async () => {
    const modes = ['crash', 'timeout', 'missing', 'shape', 'nan', 'ok'];
    // A deadline long enough for Python to start on a busy machine; the timeout round waits it out.
    const { keyFile } = await federation({ rounds: modes.length, minSites: 1, roundDeadlineSeconds: 15 });
    const ts = await tsSite('ts-site', 20, modes.length, new Map());
    const a = agent(keyFile, modes.length, modes.join(','));
    // Rounds close at a short deadline: both sites must be watching before the run starts.
    await sitesWatching(stack, 2);
    const run = await stack.admin.startRun('toy');
    const ended = await stack.admin.waitForRun(run.id);
    expect(ended.status).toBe('RUN_STATUS_FINISHED');
    expect(await a.exited).toBe(0);
    await ts.done;
    const log = a.stderr();
    expect(log).toMatch(/\[round 1 train\] train failed; waiting for the next task: ABORTED\/SCRIPT_FAILED: the training script exited with status 3/);
    expect(log).toMatch(/\[round 2 train\] train failed; waiting for the next task: DEADLINE_EXCEEDED\/DEADLINE_PASSED: .*script stopped with SIGTERM/);
    expect(log).toMatch(/\[round 3 train\] train failed; waiting for the next task: .*\/PAYLOAD_MISSING: the script exited 0 without writing result.json/);
    expect(log).toMatch(/\[round 4 train\] train failed; waiting for the next task: .*\/SCHEMA_MISMATCH: update.safetensors does not fit the model/);
    expect(log).toMatch(/\[round 5 train\] train failed; waiting for the next task: .*\/NON_FINITE: update.safetensors: tensor "\w+" holds NaN or infinity/);
    expect(a.stdout()).toContain('done: 6 tasks, 1 accepted, 0 refused, 5 failed');
    const accepted = (await stack.admin.listRounds(run.id)).map((r) => r.accepted.map((u) => u.site).sort());
    expect(accepted).toEqual([['ts-site'], ['ts-site'], ['ts-site'], ['ts-site'], ['ts-site'], ['py-site', 'ts-site']]);
  }, 240_000);

  it('on Ctrl-C stops the script, publishes nothing and exits with 130', async () => {
    const { keyFile } = await federation({ rounds: 1, minSites: 1, roundDeadlineSeconds: 60 });
    const a = agent(keyFile, 1, 'hang');
    const run = await stack.admin.startRun('toy');
    await eventually(() => a.stderr().includes('training round 1 (hang)'), 60_000);
    const pid = Number(await readFile(join(work, 'pid'), 'utf8'));
    a.child.kill('SIGINT');
    expect(await a.exited).toBe(130);
    expect(a.stderr()).toContain('[round 1 train] stopped (CANCELLED): interrupted; the script was stopped and nothing was published');
    expect(a.stdout()).toContain('interrupted: 1 tasks, 0 accepted, 0 refused, 0 failed');
    expect(() => process.kill(pid, 0)).toThrow();
    const [round] = await stack.admin.listRounds(run.id);
    expect(round?.accepted).toEqual([]);
  });
});
