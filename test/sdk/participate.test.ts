import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SiteClient, encodeSafetensors, type UpdateVerdict } from '@tributary/client-sdk';
import { addSite, eventually, startStack, type Stack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

describe('SiteClient.participate', () => {
  let stack: Stack;
  const clients: SiteClient[] = [];

  beforeEach(async () => {
    stack = await startStack();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await stack?.stop();
  });

  async function federation(rounds: number, roundDeadlineSeconds = 60): Promise<void> {
    await stack.admin.createFederation({
      name: 'toy',
      settings: { strategy: 'fedavg', rounds, minSites: 1, roundDeadlineSeconds },
      initialModel: encodeSafetensors(toyModel()),
    });
  }

  async function site(name: string): Promise<SiteClient> {
    const key = await addSite(stack, name, ['toy']);
    const client = await SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key });
    clients.push(client);
    return client;
  }

  it('resolves when the run ends, saying it finished', async () => {
    await federation(2);
    const client = await site('site-a');
    const done = client.participate('toy', async (task) => ({ weights: toyTrain(task.model, 'site-a', task.round), numExamples: 10 }));
    const run = await stack.admin.startRun('toy');
    const summary = await done;
    expect(summary).toEqual({
      tasks: 2,
      accepted: 2,
      refused: 0,
      failed: 0,
      end: { how: 'run-ended', run: { federation: 'toy', runId: run.id, status: 'FINISHED', message: '', round: 2 } },
    });
  });

  it('resolves when the run is stopped, saying it was killed and why', async () => {
    await federation(3);
    const client = await site('site-a');
    let stop: () => void = () => undefined;
    const done = client.participate('toy', async (task) => {
      if (task.round === 2) stop();
      return { weights: toyTrain(task.model, 'site-a', task.round), numExamples: 10 };
    });
    const run = await stack.admin.startRun('toy');
    stop = () => void stack.admin.stopRun(run.id, 'enough for today');
    const summary = await done;
    expect(summary.end).toMatchObject({ how: 'run-ended', run: { runId: run.id, status: 'KILLED' } });
    expect(summary.end.how === 'run-ended' && summary.end.run.message).toContain('enough for today');
  });

  it('resolves after maxTasks handled tasks, saying so', async () => {
    await federation(3);
    const client = await site('site-a');
    const done = client.participate('toy', async (task) => ({ weights: toyTrain(task.model, 'site-a', task.round), numExamples: 10 }), { maxTasks: 2 });
    await stack.admin.startRun('toy');
    const summary = await done;
    expect(summary).toEqual({ tasks: 2, accepted: 2, refused: 0, failed: 0, end: { how: 'max-tasks' } });
  });

  it('counts a task whose train throws toward maxTasks', async () => {
    await federation(3, 5);
    const client = await site('site-a');
    // Another site delivers, so the rounds commit without site-a's first update.
    const other = await site('site-b');
    const otherDone = other.participate('toy', async (task) => ({ weights: toyTrain(task.model, 'site-b', task.round), numExamples: 10 }));
    const done = client.participate(
      'toy',
      async (task) => {
        if (task.round === 1) throw new Error('out of memory');
        return { weights: toyTrain(task.model, 'site-a', task.round), numExamples: 10 };
      },
      { maxTasks: 2 },
    );
    await stack.admin.startRun('toy');
    const summary = await done;
    expect(summary).toEqual({ tasks: 2, accepted: 1, refused: 0, failed: 1, end: { how: 'max-tasks' } });
    expect((await otherDone).end.how).toBe('run-ended');
  });

  it('resolves saying it stopped when its signal aborts', async () => {
    await federation(1);
    const client = await site('site-a');
    const stop = new AbortController();
    const done = client.participate('toy', async (task) => ({ weights: toyTrain(task.model, 'site-a', task.round), numExamples: 10 }), { signal: stop.signal });
    stop.abort();
    expect((await done).end).toEqual({ how: 'stopped' });
  });

  it('leaves no listener on its signal after each task: fourteen tasks raise no MaxListenersExceededWarning', async () => {
    const rounds = 14;
    await federation(rounds);
    const client = await site('site-a');
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      const signal = new AbortController().signal;
      const done = client.participate('toy', async (task) => ({ weights: toyTrain(task.model, 'site-a', task.round), numExamples: 10 }), { signal });
      await stack.admin.startRun('toy');
      const summary = await done;
      expect(summary.accepted).toBe(rounds);
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.includes('MaxListenersExceededWarning'))).toEqual([]);
  });

  it('hands each verdict the payload digest and size the coordinator verified', async () => {
    await federation(1);
    const client = await site('site-a');
    const verdicts: UpdateVerdict[] = [];
    const sent: Buffer[] = [];
    await stack.admin.startRun('toy');
    const done = client.participate(
      'toy',
      async (task) => {
        const weights = toyTrain(task.model, 'site-a', task.round);
        sent.push(encodeSafetensors(weights));
        return { weights, numExamples: 10 };
      },
      { onVerdict: (v) => void verdicts.push(v) },
    );
    await done;
    const [verdict] = verdicts;
    const [payload] = sent;
    expect(verdict?.accepted).toBe(true);
    expect(verdict?.payloadSha256).toBe(createHash('sha256').update(payload!).digest('hex'));
    expect(verdict?.payloadSize).toBe(payload!.length);
    const [round] = await eventually(async () => {
      const rounds = await stack.admin.listRounds(verdict!.runId);
      return rounds[0]?.accepted.length === 1 ? rounds : undefined;
    });
    expect(round?.accepted[0]).toMatchObject({ payloadSha256: verdict?.payloadSha256, payloadSize: verdict?.payloadSize });
  });
});
