import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SiteClient, type ParticipationSummary, type SiteTask, type TrainResult } from '@tributary/client-sdk';
import {
  RpcClient,
  TributaryError,
  encodeSafetensors,
  generateSigningKey,
  tensor,
  writeKeyFile,
  type FederationSettings,
  type ReportTaskFailureRequest,
  type ReportTaskFailureResponse__Output,
  type Round__Output,
  type SigningKey,
  type TensorMap,
} from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSite, eventually, sitesWatching, startStack, type Stack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

const SITE_PROCESS = fileURLToPath(new URL('../helpers/site-process.mjs', import.meta.url));

type Train = (task: SiteTask, client: SiteClient) => Promise<TrainResult>;

const healthy: Train = async (task, client) => ({ weights: toyTrain(task.model, client.site, task.round), numExamples: 10 });

const throwing: Train = async () => {
  throw new Error('CUDA out of memory while training on the local shard');
};

/** Trains until the client closes: a site that never finishes. */
const endless: Train = (task) =>
  new Promise((_resolve, reject) => {
    task.signal.addEventListener('abort', () => reject(task.signal.reason));
  });

interface Federated {
  runId: string;
  clients: SiteClient[];
  done: Array<Promise<ParticipationSummary>>;
}

/**
 * Creates a federation of in-process SDK sites, one `train` each, all watching their tasks
 * before the run starts, and starts one run.
 */
async function federate(stack: Stack, name: string, settings: FederationSettings, trains: Train[], model: TensorMap = toyModel(), clientOptions: { uploadBytesPerSecond?: number } = {}): Promise<Federated> {
  await stack.admin.createFederation({ name, settings, initialModel: encodeSafetensors(model) });
  const keys: SigningKey[] = [];
  for (const [i] of trains.entries()) keys.push(await addSite(stack, `${name}-${String.fromCharCode(97 + i)}`, [name]));
  const before = (await stack.coordinator.metrics.connectedSites.get()).values[0]?.value ?? 0;
  const clients = await Promise.all(keys.map((key) => SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key, ...clientOptions })));
  const done = clients.map((client, i) => client.participate(name, (task) => (trains[i] as Train)(task, client), { maxTasks: 1 }));
  await sitesWatching(stack, before + clients.length);
  const runId = (await stack.admin.startRun(name)).id;
  return { runId, clients, done };
}

async function closeAll(f: Federated): Promise<void> {
  await Promise.all(f.clients.map((c) => c.close()));
  await Promise.allSettled(f.done);
}

async function siteFailuresCounted(stack: Stack, reason: string): Promise<number> {
  const text = await stack.coordinator.metrics.registry.getSingleMetricAsString('tributary_site_failures_total');
  return Number(new RegExp(`reason="${reason}"} (\\d+)`).exec(text)?.[1] ?? 0);
}

describe('sites whose training fails', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  describe('with on_site_error "ignore" and the quorum still reachable', () => {
    let round: Round__Output;
    let status: string;
    let counted: number;
    beforeAll(async () => {
      const f = await federate(stack, 'ignore', { rounds: 1, minSites: 2, roundDeadlineSeconds: 600 }, [healthy, healthy, throwing]);
      try {
        status = (await stack.admin.waitForRun(f.runId)).status;
      } finally {
        await closeAll(f);
      }
      round = await stack.admin.getRound(f.runId, 1);
      counted = await siteFailuresCounted(stack, 'SITE_ERROR');
    }, 60_000);

    it('records the failing site on the round with SITE_ERROR and its message', () => {
      expect(round.siteFailures).toHaveLength(1);
      expect(round.siteFailures[0]).toMatchObject({ site: 'ignore-c', reason: 'SITE_ERROR' });
      expect(round.siteFailures[0]?.message).toContain('CUDA out of memory');
    });

    it('counts the failure in tributary_site_failures_total', () => {
      expect(counted).toBeGreaterThanOrEqual(1);
    });

    it('commits the round with the other sites, before its deadline', () => {
      expect(status).toBe('RUN_STATUS_FINISHED');
      expect(round.state).toBe('ROUND_STATE_COMMITTED');
      expect(round.accepted.map((u) => u.site).sort()).toEqual(['ignore-a', 'ignore-b']);
      expect(round.closedAtMs).toBeLessThan(round.deadlineAtMs);
    });
  });

  it('fails the round at once, well before its deadline, when the sites left cannot reach min_sites', async () => {
    const f = await federate(stack, 'unreachable', { rounds: 2, minSites: 3, roundDeadlineSeconds: 600 }, [healthy, healthy, throwing]);
    try {
      const run = await stack.admin.waitForRun(f.runId);
      expect(run.status).toBe('RUN_STATUS_FAILED');
    } finally {
      await closeAll(f);
    }
    const round = await stack.admin.getRound(f.runId, 1);
    expect(round.state).toBe('ROUND_STATE_FAILED');
    expect(round.failureReason).toMatch(/^QUORUM_NOT_MET: quorum unreachable/);
    expect(round.closedAtMs).toBeLessThan(round.deadlineAtMs);
  }, 60_000);

  it('fails the round with SITE_ERROR at the first site error under on_site_error "fail"', async () => {
    const f = await federate(stack, 'strict', { rounds: 1, minSites: 1, roundDeadlineSeconds: 600, onSiteError: 'fail' }, [healthy, endless, throwing]);
    try {
      const run = await stack.admin.waitForRun(f.runId);
      expect(run.status).toBe('RUN_STATUS_FAILED');
      expect(run.failureReason).toContain('SITE_ERROR');
    } finally {
      await closeAll(f);
    }
    const round = await stack.admin.getRound(f.runId, 1);
    expect(round.state).toBe('ROUND_STATE_FAILED');
    expect(round.failureReason).toMatch(/^SITE_ERROR: site "strict-c" failed/);
  }, 60_000);

  describe('failure reports the coordinator refuses', () => {
    let f: Federated;
    beforeAll(async () => {
      f = await federate(stack, 'refusing', { rounds: 1, minSites: 1, roundDeadlineSeconds: 600 }, [endless]);
      await eventually(async () => ((await stack.admin.getRound(f.runId, 1)).state === 'ROUND_STATE_OPEN' ? true : undefined));
    }, 60_000);
    afterAll(async () => {
      await stack.admin.stopRun(f.runId, 'test over').catch(() => undefined);
      await closeAll(f);
    });

    async function report(key: SigningKey): Promise<TributaryError> {
      const rpc = new RpcClient({ address: stack.coordinator.address, key, service: 'SiteService' });
      try {
        const request: ReportTaskFailureRequest = { federation: 'refusing', runId: f.runId, round: 1, message: 'not mine to say' };
        await rpc.unary<ReportTaskFailureRequest, ReportTaskFailureResponse__Output>('ReportTaskFailure', request);
        throw new Error('the report was taken');
      } catch (err) {
        return TributaryError.from(err);
      } finally {
        rpc.close();
      }
    }

    it('refuses a report from a member not selected for the round with SITE_NOT_SELECTED, and records nothing', async () => {
      // A member added after the round opened was not selected for it.
      const late = await addSite(stack, 'refusing-late', ['refusing']);
      const err = await report(late);
      expect(err.reason).toBe('SITE_NOT_SELECTED');
      expect(err.code).toBe('FAILED_PRECONDITION');
      const round = await stack.admin.getRound(f.runId, 1);
      expect(round.state).toBe('ROUND_STATE_OPEN');
      expect(round.siteFailures).toEqual([]);
    });

    it('refuses a report signed by an unknown key, and records nothing', async () => {
      const err = await report(generateSigningKey('stranger'));
      expect(err.code).toBe('UNAUTHENTICATED');
      const round = await stack.admin.getRound(f.runId, 1);
      expect(round.state).toBe('ROUND_STATE_OPEN');
      expect(round.siteFailures).toEqual([]);
    });
  });
});

describe('heartbeats and silent sites', () => {
  let stack: Stack;
  let work: string;
  beforeAll(async () => {
    stack = await startStack();
    work = await mkdtemp(join(tmpdir(), 'tributary-site-errors-'));
  });
  afterAll(async () => {
    await stack?.stop();
    await rm(work, { recursive: true, force: true });
  });

  /**
   * Two healthy in-process sites and one in a child process that takes its task and then trains
   * forever, heartbeating; with `freeze` the child is stopped (SIGSTOP) once it trains. Resolves
   * with the run's status and its first round once the run has ended.
   */
  async function withLongTrainer(federation: string, settings: FederationSettings, opts: { freeze: boolean }): Promise<{ status: string; round: Round__Output }> {
    await stack.admin.createFederation({ name: federation, settings, initialModel: encodeSafetensors(toyModel()) });
    const slowKey = await addSite(stack, `${federation}-slow`, [federation]);
    const keys = [await addSite(stack, `${federation}-a`, [federation]), await addSite(stack, `${federation}-b`, [federation])];
    const keyFile = join(work, `${federation}.key`);
    await writeKeyFile(keyFile, slowKey);
    const outDir = await mkdtemp(join(work, `${federation}-`));
    const before = (await stack.coordinator.metrics.connectedSites.get()).values[0]?.value ?? 0;
    const child: ChildProcess = spawn(process.execPath, [SITE_PROCESS], {
      env: { ...process.env, COORDINATOR: stack.coordinator.address, NATS: stack.nats.url, KEY_FILE: keyFile, FEDERATION: federation, OUT_DIR: outDir, DELTA: '0', NUM_EXAMPLES: '10', MAX_TASKS: '1', STALL: '1' },
      stdio: 'ignore',
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const clients = await Promise.all(keys.map((key) => SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key })));
    const f: Federated = { runId: '', clients, done: clients.map((client) => client.participate(federation, (task) => healthy(task, client), { maxTasks: 1 })) };
    try {
      await sitesWatching(stack, before + 3);
      f.runId = (await stack.admin.startRun(federation)).id;
      await eventually(() => (existsSync(join(outDir, 'training')) ? true : undefined), 30_000);
      if (opts.freeze) child.kill('SIGSTOP');
      const status = (await stack.admin.waitForRun(f.runId)).status;
      return { status, round: await stack.admin.getRound(f.runId, 1) };
    } finally {
      child.kill('SIGKILL');
      await exited;
      await closeAll(f);
    }
  }

  it('does not fail a site that trains longer than site_idle_timeout_seconds while it heartbeats', async () => {
    const { status, round } = await withLongTrainer('patient', { rounds: 1, minSites: 2, roundDeadlineSeconds: 15, heartbeatIntervalSeconds: 1, siteIdleTimeoutSeconds: 5 }, { freeze: false });
    expect(status).toBe('RUN_STATUS_FINISHED');
    // The round ran to its deadline (15 s), three idle timeouts, waiting for the slow site.
    expect(round.closedAtMs).toBeGreaterThanOrEqual(round.deadlineAtMs);
    expect(round.siteFailures).toEqual([]);
    expect(round.state).toBe('ROUND_STATE_COMMITTED');
  }, 90_000);

  it('fails a frozen site with SITE_UNRESPONSIVE and commits without it before the deadline', async () => {
    const { status, round } = await withLongTrainer('frozen', { rounds: 1, minSites: 2, roundDeadlineSeconds: 600, heartbeatIntervalSeconds: 1, siteIdleTimeoutSeconds: 5 }, { freeze: true });
    expect(status).toBe('RUN_STATUS_FINISHED');
    expect(round.siteFailures.map((x) => [x.site, x.reason])).toEqual([['frozen-slow', 'SITE_UNRESPONSIVE']]);
    expect(round.state).toBe('ROUND_STATE_COMMITTED');
    expect(round.closedAtMs).toBeLessThan(round.deadlineAtMs);
  }, 90_000);
});

describe('uploads still moving at the deadline', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** A model of 2M float32 (8 MB): at 1 MB/s its upload takes about eight seconds. */
  function largeModel(): TensorMap {
    return { w: tensor('F32', [2_000_000], new Float32Array(2_000_000)) };
  }

  /** Returns the model once the deadline is four seconds away, so the upload straddles it. */
  const lateStarter: Train = async (task) => {
    const wait = task.deadlineAtMs - 4_000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const w = task.model['w'];
    if (w === undefined) throw new Error('the model has no tensor "w"');
    const data = Float32Array.from(w.data as Float32Array, (v) => v + 1);
    return { weights: { w: tensor('F32', [...w.shape], data) }, numExamples: 5 };
  };

  it('accepts an update whose upload was still moving at the deadline, within upload_grace_seconds', async () => {
    const f = await federate(stack, 'slowlink', { rounds: 1, minSites: 1, roundDeadlineSeconds: 10, heartbeatIntervalSeconds: 1, uploadGraceSeconds: 60 }, [lateStarter], largeModel(), { uploadBytesPerSecond: 1_000_000 });
    try {
      expect((await stack.admin.waitForRun(f.runId)).status).toBe('RUN_STATUS_FINISHED');
    } finally {
      await closeAll(f);
    }
    const round = await stack.admin.getRound(f.runId, 1);
    expect(round.state).toBe('ROUND_STATE_COMMITTED');
    expect(round.accepted.map((u) => u.site)).toEqual(['slowlink-a']);
    expect(round.accepted[0]?.acceptedAtMs).toBeGreaterThan(round.deadlineAtMs);
    expect(round.extendedUntilMs).toBeGreaterThan(round.deadlineAtMs);
  }, 90_000);

  it('closes at the deadline without the upload when upload_grace_seconds is off', async () => {
    const f = await federate(stack, 'nograce', { rounds: 1, minSites: 1, roundDeadlineSeconds: 10, heartbeatIntervalSeconds: 1 }, [lateStarter], largeModel(), { uploadBytesPerSecond: 1_000_000 });
    try {
      expect((await stack.admin.waitForRun(f.runId)).status).toBe('RUN_STATUS_FAILED');
    } finally {
      await closeAll(f);
    }
    const round = await stack.admin.getRound(f.runId, 1);
    expect(round.accepted).toEqual([]);
    expect(round.failureReason).toMatch(/^QUORUM_NOT_MET: 0 of 1/);
    expect(round.extendedUntilMs).toBe(0);
  }, 90_000);
});
