import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SiteClient } from '@tributary/client-sdk';
import { decodeSafetensors, encodeSafetensors, generateSigningKey, writeKeyFile, type TensorMap } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSite, startStack, type Stack } from '../helpers/stack.js';
import { referenceFedAvg, toyModel, toyTrain } from '../helpers/training.js';

const SITE_PROCESS = fileURLToPath(new URL('../helpers/site-process.mjs', import.meta.url));

describe('a federated run over real gRPC, NATS JetStream and LevelDB', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('commits, every round, exactly the FedAvg of the updates the sites sent (one site in its own process)', async () => {
    const rounds = 3;
    await stack.admin.createFederation({
      name: 'toy',
      settings: { strategy: 'fedavg', rounds, minSites: 3, roundDeadlineSeconds: 60 },
      initialModel: encodeSafetensors(toyModel()),
    });
    const keyA = await addSite(stack, 'site-a', ['toy']);
    const keyB = await addSite(stack, 'site-b', ['toy']);
    const keyC = await addSite(stack, 'site-c', ['toy']);

    // site-c runs in a separate OS process with a key file.
    const work = await mkdtemp(join(tmpdir(), 'tributary-site-c-'));
    const keyFile = join(work, 'site-c.key');
    await writeKeyFile(keyFile, keyC);
    const child = spawn(process.execPath, [SITE_PROCESS], {
      env: {
        ...process.env,
        COORDINATOR: stack.coordinator.address,
        NATS: stack.nats.url,
        KEY_FILE: keyFile,
        FEDERATION: 'toy',
        OUT_DIR: work,
        DELTA: '0.25',
        NUM_EXAMPLES: '30',
        MAX_TASKS: String(rounds),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let childErr = '';
    child.stderr.on('data', (d: Buffer) => (childErr += d.toString()));
    const childExit = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));

    const sent = new Map<number, Array<{ weights: TensorMap; numExamples: number }>>();
    const record = (round: number, update: { weights: TensorMap; numExamples: number }) => {
      const list = sent.get(round) ?? [];
      list.push(update);
      sent.set(round, list);
    };
    const controller = new AbortController();
    const inProcess = await Promise.all(
      [
        { key: keyA, examples: 10 },
        { key: keyB, examples: 20 },
      ].map(async ({ key, examples }) => {
        const client = await SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key });
        const done = client.participate(
          'toy',
          async (task) => {
            const weights = toyTrain(task.model, client.site, task.round);
            record(task.round, { weights, numExamples: examples });
            return { weights, numExamples: examples, metrics: { loss: examples / task.round } };
          },
          { signal: controller.signal, maxTasks: rounds },
        );
        return { client, done };
      }),
    );

    const run = await stack.admin.startRun('toy');
    const ended = await stack.admin.waitForRun(run.id);
    controller.abort();
    for (const s of inProcess) {
      await s.done;
      await s.client.close();
    }
    expect(await childExit, childErr).toBe(0);
    expect(ended.status).toBe('RUN_STATUS_FINISHED');

    const versions = await stack.admin.listModelVersions('toy');
    expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4]);
    const roundsList = await stack.admin.listRounds(run.id);
    expect(roundsList.map((r) => r.state)).toEqual(Array(rounds).fill('ROUND_STATE_COMMITTED'));

    for (let round = 1; round <= rounds; round++) {
      const fromChild = decodeSafetensors(await readFile(join(work, `${round}.safetensors`))).tensors;
      record(round, { weights: fromChild, numExamples: 30 });
      const expected = referenceFedAvg(sent.get(round) ?? []);
      const committed = decodeSafetensors((await stack.admin.downloadModel('toy', round + 1)).bytes).tensors;
      for (const [name, values] of Object.entries(expected)) {
        const got = committed[name]?.data as Float32Array;
        expect(got.length).toBe(values.length);
        for (let i = 0; i < values.length; i++) {
          const want = values[i] ?? 0;
          expect(Math.abs((got[i] ?? NaN) - want)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want)));
        }
      }
      const version = versions[round];
      expect(version?.parentVersion).toBe(round);
      expect(version?.runId).toBe(run.id);
      expect(version?.contributions.map((c) => c.site).sort()).toEqual(['site-a', 'site-b', 'site-c']);
      expect(roundsList[round - 1]?.metrics['num_examples']).toBe(60);
    }
  });

  it('runs federated evaluation every N rounds and stores the example-weighted metrics with the round', async () => {
    await stack.admin.createFederation({
      name: 'evaluated',
      settings: { rounds: 2, minSites: 2, evaluateEvery: 1, roundDeadlineSeconds: 60 },
      initialModel: encodeSafetensors(toyModel()),
    });
    const sites = [
      { key: await addSite(stack, 'eval-a', ['evaluated']), examples: 10, accuracy: 0.5 },
      { key: await addSite(stack, 'eval-b', ['evaluated']), examples: 30, accuracy: 0.9 },
    ];
    const controller = new AbortController();
    const evaluatedVersions: number[] = [];
    const clients = await Promise.all(sites.map((s) => SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key: s.key })));
    const loops = clients.map((client, i) =>
      client.participate('evaluated', async (task) => ({ weights: toyTrain(task.model, client.site, task.round), numExamples: 5 }), {
        signal: controller.signal,
        evaluate: async (task) => {
          evaluatedVersions.push(task.modelVersion);
          return { numExamples: sites[i]?.examples ?? 1, metrics: { accuracy: (sites[i]?.accuracy ?? 0) + task.round / 100 } };
        },
      }),
    );
    const run = await stack.admin.startRun('evaluated');
    const ended = await stack.admin.waitForRun(run.id);
    controller.abort();
    await Promise.all(loops);
    await Promise.all(clients.map((c) => c.close()));
    expect(ended.status).toBe('RUN_STATUS_FINISHED');
    const rounds = await stack.admin.listRounds(run.id);
    for (const round of rounds) {
      const expected = (10 * (0.5 + round.number / 100) + 30 * (0.9 + round.number / 100)) / 40;
      expect(round.metrics['eval_accuracy']).toBeCloseTo(expected, 12);
      expect(round.metrics['eval_num_sites']).toBe(2);
      expect(round.metrics['eval_num_examples']).toBe(40);
    }
    // Each evaluation ran on the version its round committed.
    expect([...new Set(evaluatedVersions)].sort()).toEqual(rounds.map((r) => r.committedVersion).sort());
  });

  it('fails a round that misses its quorum at the deadline, and fails the run when so configured', async () => {
    await stack.admin.createFederation({
      name: 'quorum-fail',
      settings: { rounds: 2, minSites: 2, roundDeadlineSeconds: 1 },
      initialModel: encodeSafetensors(toyModel()),
    });
    await addSite(stack, 'lonely-1', ['quorum-fail']);
    await addSite(stack, 'lonely-2', ['quorum-fail']);
    const run = await stack.admin.startRun('quorum-fail');
    const ended = await stack.admin.waitForRun(run.id);
    expect(ended.status).toBe('RUN_STATUS_FAILED');
    expect(ended.failureReason).toContain('QUORUM_NOT_MET');
    const rounds = await stack.admin.listRounds(run.id);
    expect(rounds).toHaveLength(1);
    expect(rounds[0]?.state).toBe('ROUND_STATE_FAILED');
    expect(rounds[0]?.failureReason).toContain('QUORUM_NOT_MET');
    expect((await stack.admin.getFederation('quorum-fail')).latestVersion).toBe(1);
  });

  it('goes on after a failed round when on_round_failure is CONTINUE', async () => {
    await stack.admin.createFederation({
      name: 'quorum-continue',
      settings: { rounds: 2, minSites: 1, roundDeadlineSeconds: 1, onRoundFailure: 'ROUND_FAILURE_POLICY_CONTINUE' },
      initialModel: encodeSafetensors(toyModel()),
    });
    await addSite(stack, 'absent-site', ['quorum-continue']);
    const run = await stack.admin.startRun('quorum-continue');
    const ended = await stack.admin.waitForRun(run.id);
    expect(ended.status).toBe('RUN_STATUS_FINISHED');
    const rounds = await stack.admin.listRounds(run.id);
    expect(rounds.map((r) => r.state)).toEqual(['ROUND_STATE_FAILED', 'ROUND_STATE_FAILED']);
    expect(ended.latestVersion).toBe(1);
  });

  it('stops a run on request and marks it KILLED', async () => {
    await stack.admin.createFederation({ name: 'stoppable', settings: { rounds: 5, roundDeadlineSeconds: 60 }, initialModel: encodeSafetensors(toyModel()) });
    await addSite(stack, 'idle-site', ['stoppable']);
    const run = await stack.admin.startRun('stoppable');
    const stopped = await stack.admin.stopRun(run.id, 'test over');
    expect(stopped.status).toBe('RUN_STATUS_KILLED');
    const rounds = await stack.admin.listRounds(run.id);
    expect(rounds[0]?.state).toBe('ROUND_STATE_FAILED');
    expect(rounds[0]?.failureReason).toContain('RUN_STOPPED');
  });

  it('lets a site join with a one-time invitation, and only once', async () => {
    await stack.admin.createFederation({ name: 'invited', initialModel: encodeSafetensors(toyModel()) });
    const invitation = await stack.admin.createInvitation({ federations: ['invited'], siteName: 'newcomer' });
    const key = generateSigningKey('newcomer');
    const site = await SiteClient.enroll({ coordinator: stack.coordinator.address, key, invitationToken: invitation.token });
    expect(site.name).toBe('newcomer');
    expect(site.federations).toEqual(['invited']);
    const other = generateSigningKey('newcomer');
    await expect(SiteClient.enroll({ coordinator: stack.coordinator.address, key: other, invitationToken: invitation.token })).rejects.toMatchObject({
      reason: 'INVITATION_INVALID',
    });
  });

  it('joins a known site to another federation when it is added again with its own key', async () => {
    await stack.admin.createFederation({ name: 'second-home', initialModel: encodeSafetensors(toyModel()) });
    const key = await addSite(stack, 'wanderer', ['invited']);
    const joined = await stack.admin.addSite({ name: 'wanderer', publicKey: key.publicKey, federations: ['second-home'] });
    expect(joined.federations.sort()).toEqual(['invited', 'second-home']);
    await expect(stack.admin.addSite({ name: 'wanderer', publicKey: generateSigningKey('other').publicKey, federations: ['second-home'] })).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
    });
  });
});
