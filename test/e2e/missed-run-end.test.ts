import { SiteClient, type ParticipationSummary } from '@tributary/client-sdk';
import { RpcClient, encodeSafetensors, type SigningKey, type Task__Output, type WatchTasksRequest } from '@tributary/proto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addSite, eventually, sitesWatching, startStack, type Stack } from '../helpers/stack.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { toyModel, toyTrain } from '../helpers/training.js';

/** Rejects when `promise` has not settled within `ms`, saying what was awaited. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('a site away when its run ends', () => {
  let stack: Stack;
  let proxy: TcpProxy;
  let key: SigningKey;
  beforeEach(async () => {
    stack = await startStack();
    await stack.admin.createFederation({ name: 'away', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(toyModel()) });
    key = await addSite(stack, 'roamer', ['away']);
    // The site reaches the coordinator's gRPC port through a relay the test can cut.
    proxy = await TcpProxy.start(stack.coordinator.address);
  });
  afterEach(async () => {
    await proxy?.close();
    await stack?.stop();
  });

  /** Participates in one run of "away", losing its task stream while it trains; resolves once the run ended. */
  async function awayAtTheEnd(client: SiteClient): Promise<{ runId: string; summary: Promise<ParticipationSummary> }> {
    const summary = client.participate('away', async (task) => {
      await proxy.cut();
      return { weights: toyTrain(task.model, 'roamer', task.round), numExamples: 10 };
    });
    await sitesWatching(stack, 1);
    const run = await stack.admin.startRun('away');
    // The update travels over NATS, which stays up: the round commits and the run finishes
    // while the site has no task stream to hear it on.
    expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
    await eventually(async () => ((await stack.coordinator.metrics.connectedSites.get()).values[0]?.value ?? 0) === 0 || undefined, 30_000);
    await proxy.restore();
    return { runId: run.id, summary };
  }

  it('learns on reconnecting that the run it took part in ended, and participate resolves with its status', async () => {
    const client = await SiteClient.connect({ coordinator: proxy.address, nats: stack.nats.url, key, retry: { initialDelayMs: 50, maxDelayMs: 500 } });
    try {
      const { runId, summary } = await awayAtTheEnd(client);
      expect(await within(summary, 60_000, 'participate after the reconnect')).toEqual({
        tasks: 1,
        accepted: 1,
        refused: 0,
        failed: 0,
        end: { how: 'run-ended', run: { federation: 'away', runId, status: 'FINISHED', message: '', round: 1 } },
      });
    } finally {
      await client.close();
    }
  }, 120_000);

  it('is told, as the stream opens, only of the named runs that ended in the federation it watches', async () => {
    await stack.admin.createFederation({ name: 'elsewhere', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(toyModel()) });
    await addSite(stack, 'stranger', ['elsewhere']);
    const foreign = await stack.admin.startRun('elsewhere');
    await stack.admin.stopRun(foreign.id, 'not this site\'s business');
    const own = await stack.admin.startRun('away');
    await stack.admin.stopRun(own.id, 'stopped by an operator');
    const rpc = new RpcClient({ address: stack.coordinator.address, key, service: 'SiteService' });
    const controller = new AbortController();
    try {
      let first: Task__Output | undefined;
      for await (const task of rpc.serverStream<WatchTasksRequest, Task__Output>('WatchTasks', { federation: 'away', joinedRuns: ['0000000000000000', foreign.id, own.id] }, { signal: controller.signal })) {
        first = task;
        break;
      }
      expect(first).toMatchObject({ kind: 'run_ended', announced: true, runId: own.id, runStatus: 'RUN_STATUS_KILLED', runMessage: 'stopped by an operator' });
    } finally {
      controller.abort();
      rpc.close();
    }
  });

  it('refuses a task stream that names more than 16 runs', async () => {
    const rpc = new RpcClient({ address: stack.coordinator.address, key, service: 'SiteService' });
    try {
      const joinedRuns = Array.from({ length: 17 }, (_, i) => i.toString(16).padStart(16, '0'));
      const stream = rpc.serverStream<WatchTasksRequest, Task__Output>('WatchTasks', { federation: 'away', joinedRuns });
      await expect((async () => {
        for await (const _task of stream) return;
      })()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    } finally {
      rpc.close();
    }
  });

  it('is not told that run ended again when it takes part in the next run', async () => {
    const client = await SiteClient.connect({ coordinator: proxy.address, nats: stack.nats.url, key, retry: { initialDelayMs: 50, maxDelayMs: 500 } });
    try {
      const first = await awayAtTheEnd(client);
      await within(first.summary, 60_000, 'participate after the reconnect');
      const next = client.participate('away', async (task) => ({ weights: toyTrain(task.model, 'roamer', task.round), numExamples: 10 }));
      await sitesWatching(stack, 1);
      const run = await stack.admin.startRun('away');
      const summary = await within(next, 60_000, 'participate in the next run');
      expect(summary).toMatchObject({ tasks: 1, accepted: 1, end: { how: 'run-ended', run: { runId: run.id, status: 'FINISHED' } } });
    } finally {
      await client.close();
    }
  }, 120_000);
});
