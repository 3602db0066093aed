import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SiteClient } from '@tributary/client-sdk';
import { LevelTrackingStore, MlflowRestStore } from '@tributary/coordinator';
import { encodeSafetensors, writeKeyFile, type DeleteFederationResponse__Output, type Federation__Output, type Run__Output, type SigningKey } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeOf, runCli, type CliResult } from '../helpers/cli.js';
import { addSite, eventually, startStack, type Stack } from '../helpers/stack.js';
import { MlflowContractFake } from '../tracking/mlflow-contract-fake.js';
import { toyModel } from '../helpers/training.js';

function json<T>(r: CliResult): T {
  const envelope = envelopeOf<T>(r);
  if (!envelope.ok) throw new Error(`command failed: ${r.stdout}${r.stderr}`);
  return envelope.result as T;
}

/** `tributary <args>` as the owner, against the stack's coordinator. */
function cliOf(stack: () => Stack, dir: () => string): (args: string[]) => Promise<CliResult> {
  return (args) =>
    runCli(args, { cwd: dir(), withoutOuterSettings: true, env: { TRIBUTARY_COORDINATOR: stack().coordinator.address, TRIBUTARY_KEY: join(dir(), 'owner.key') } });
}

describe('federation update and delete through the CLI and a real coordinator', () => {
  let stack: Stack;
  let dir: string;
  let present: SigningKey;
  const tributary = cliOf(
    () => stack,
    () => dir,
  );

  /** Starts a run of churn: its member "absent" never connects, so the run stays RUNNING until stopped. */
  async function startRun(): Promise<Run__Output> {
    return json<Run__Output>(await tributary(['run', 'start', 'churn', '--json']));
  }

  beforeAll(async () => {
    stack = await startStack({}, { natsAuth: false });
    dir = await mkdtemp(join(tmpdir(), 'tributary-fedlife-'));
    await writeKeyFile(join(dir, 'owner.key'), stack.adminKey);
    await stack.admin.createFederation({ name: 'churn', settings: { rounds: 3, minSites: 1, roundDeadlineSeconds: 300 }, initialModel: encodeSafetensors(toyModel()) });
    await addSite(stack, 'absent', ['churn']);
    present = await addSite(stack, 'present', ['churn']);
  });
  afterAll(async () => {
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('changes the settings it is given, prints what changed, and the next run starts with them', async () => {
    const update = await tributary(['federation', 'update', 'churn', '--rounds', '5', '--deadline', '2m', '--evaluate-every', '2']);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout).toContain('rounds: 3 -> 5');
    expect(update.stdout).toContain('deadline: 300 -> 120');

    const run = await startRun();
    expect(run.rounds).toBe(5);
    expect(run.settings).toMatchObject({ rounds: 5, roundDeadlineSeconds: 120, evaluateEvery: 2, minSites: 1 });
    expect((await tributary(['run', 'stop', run.id])).code).toBe(0);
  });

  it('refuses a bad value naming the flags the user typed, and changes nothing', async () => {
    const bad = await tributary(['federation', 'update', 'churn', '--min-sites', '3', '--sample-count', '2', '--json']);
    expect(bad.code).toBe(1);
    const error = envelopeOf(bad).error;
    expect(error?.code).toBe('INVALID_ARGUMENT');
    expect(error?.message).toBe('--sample-count must be at least --min-sites (3)');
    const shown = json<Federation__Output>(await tributary(['federation', 'show', 'churn', '--json']));
    expect(shown.settings).toMatchObject({ minSites: 1, sampleCount: 0, rounds: 5 });
  });

  it('refuses a strategy option the strategy does not know, as creation does', async () => {
    const bad = await tributary(['federation', 'update', 'churn', '--strategy', 'fedprox', '--strategy-option', 'speed=9', '--json']);
    expect(bad.code).toBe(1);
    expect(envelopeOf(bad).error?.code).toBe('INVALID_ARGUMENT');
    expect(json<Federation__Output>(await tributary(['federation', 'show', 'churn', '--json'])).settings?.strategy).toBe('fedavg');
  });

  it('refuses to change the strategy between averaging and ensembling, which would break the model lineage', async () => {
    const bad = await tributary(['federation', 'update', 'churn', '--strategy', 'ensemble', '--json']);
    expect(bad.code).toBe(1);
    expect(envelopeOf(bad).error?.message).toContain('--strategy cannot change from "fedavg" to "ensemble"');
  });

  it('changes the strategy within its kind, leaving the old strategy\'s options behind', async () => {
    const update = await tributary(['federation', 'update', 'churn', '--strategy', 'fedprox', '--strategy-option', 'mu=0.1', '--json']);
    expect(json<{ federation: Federation__Output }>(update).federation.settings).toMatchObject({ strategy: 'fedprox', strategyOptions: { mu: '0.1' } });
    const back = await tributary(['federation', 'update', 'churn', '--strategy', 'fedavg', '--json']);
    expect(json<{ federation: Federation__Output }>(back).federation.settings).toMatchObject({ strategy: 'fedavg', strategyOptions: {} });
  });

  it('refuses an update that names nothing to change, before calling the coordinator', async () => {
    const none = await tributary(['federation', 'update', 'churn']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Error (USAGE): nothing to change');
  });

  it('refuses an update while a run is running, which keeps the settings it started with', async () => {
    const run = await startRun();
    const refused = await tributary(['federation', 'update', 'churn', '--rounds', '7', '--json']);
    expect(refused.code).toBe(1);
    expect(envelopeOf(refused).error).toMatchObject({ code: 'RUN_ALREADY_RUNNING' });
    expect(envelopeOf(refused).error?.message).toContain(run.id);
    expect(json<Federation__Output>(await tributary(['federation', 'show', 'churn', '--json'])).settings?.rounds).toBe(5);
  });

  it('refuses to delete a federation with a running run, and it stays', async () => {
    const refused = await tributary(['federation', 'delete', 'churn', '--yes', '--json']);
    expect(refused.code).toBe(1);
    expect(envelopeOf(refused).error).toMatchObject({ code: 'RUN_ALREADY_RUNNING' });
    expect(envelopeOf(refused).error?.hint).toContain('Add --force to stop the run and delete the federation');
    expect(json<Federation__Output[]>(await tributary(['federation', 'list', '--json'])).map((f) => f.name)).toContain('churn');
  });

  it('refuses to delete without --yes when nobody can confirm, naming the command that does', async () => {
    const refused = await tributary(['federation', 'delete', 'churn', '--force']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('Error (USAGE): deleting federation "churn" needs a confirmation');
    expect(refused.stderr).toContain('tributary federation delete churn --force --yes');
  });

  it('with --force stops the running run, then deletes the federation', async () => {
    const running = (await stack.admin.listRuns('churn')).find((r) => r.status === 'RUN_STATUS_RUNNING');
    expect(running).toBeDefined();
    const deleted = json<DeleteFederationResponse__Output>(await tributary(['federation', 'delete', 'churn', '--force', '--yes', '--json']));
    expect(deleted).toMatchObject({ name: 'churn', stoppedRunId: running?.id });
    expect(deleted.formerSites.sort()).toEqual(['absent', 'present']);
    expect((await stack.admin.getRun(running?.id ?? '')).status).toBe('RUN_STATUS_KILLED');
  });

  it('leaves the deleted federation out of federation list', async () => {
    expect(json<Federation__Output[]>(await tributary(['federation', 'list', '--json'])).map((f) => f.name)).not.toContain('churn');
  });

  it('answers federation show with NOT_FOUND and a hint', async () => {
    const show = await tributary(['federation', 'show', 'churn']);
    expect(show.code).toBe(1);
    expect(show.stderr).toContain('Error (NOT_FOUND): federation "churn" does not exist: it was deleted at');
    expect(show.stderr).toContain('`tributary federation list` shows what exists.');
  });

  it('takes its sites out of it, so they get none of its tasks', async () => {
    const sites = await stack.admin.listSites();
    expect(sites.find((s) => s.name === 'present')?.federations).toEqual([]);
    const client = await SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key: present });
    try {
      await expect(client.nextTask('churn', { timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    } finally {
      await client.close();
    }
  });

  it('keeps its runs and model versions for the record, and its audit entries', async () => {
    expect((await stack.admin.listRuns('churn')).length).toBe(2);
    const audit = await tributary(['audit', '--federation', 'churn', '--json']);
    const entries = json<Array<{ method: string; outcome: string; detail: string }>>(audit);
    const update = entries.find((e) => e.method.endsWith('/UpdateFederation') && e.outcome === 'ok');
    expect(update?.detail).toContain('settings.rounds: 3 -> 5');
    expect(entries.some((e) => e.method.endsWith('/DeleteFederation') && e.outcome === 'ok')).toBe(true);
  });

  it('does not give the name of a deleted federation to a new one', async () => {
    await expect(stack.admin.createFederation({ name: 'churn', initialModel: encodeSafetensors(toyModel()) })).rejects.toMatchObject({ reason: 'ALREADY_EXISTS' });
  });

  it('marks its tracking experiment deleted in the level store', async () => {
    await stack.coordinator.tracker.idle();
    await stack.stopCoordinator();
    const store = await LevelTrackingStore.open(join(stack.dataDir, 'tracking'));
    try {
      const experiment = await store.getExperimentByName('churn');
      expect(experiment.lifecycleStage).toBe('deleted');
      // Its runs are deleted with it: a search, which sees active runs only, finds none.
      expect((await store.searchRuns({ experimentIds: [experiment.experimentId] })).runs).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

describe('federation delete with an MLflow tracking server (REST contract fake)', () => {
  let stack: Stack;
  let fake: MlflowContractFake;
  let dir: string;
  let savedRetries: string | undefined;
  const tributary = cliOf(
    () => stack,
    () => dir,
  );

  beforeAll(async () => {
    // Only the outbox retries, so an outage shows in its depth rather than in one long request.
    savedRetries = process.env['MLFLOW_HTTP_REQUEST_MAX_RETRIES'];
    process.env['MLFLOW_HTTP_REQUEST_MAX_RETRIES'] = '0';
    fake = await MlflowContractFake.start();
    stack = await startStack({ trackingUri: fake.url, trackingRetryDelay: '100ms', trackingRetryMaxDelay: '500ms' }, { natsAuth: false });
    dir = await mkdtemp(join(tmpdir(), 'tributary-fedlife-mlflow-'));
    await writeKeyFile(join(dir, 'owner.key'), stack.adminKey);
    await stack.admin.createFederation({ name: 'fraud', settings: { rounds: 2, minSites: 1, roundDeadlineSeconds: 300 }, initialModel: encodeSafetensors(toyModel()) });
    await addSite(stack, 'absent', ['fraud']);
  });
  afterAll(async () => {
    await stack?.stop();
    await fake?.stop();
    await rm(dir, { recursive: true, force: true });
    if (savedRetries === undefined) delete process.env['MLFLOW_HTTP_REQUEST_MAX_RETRIES'];
    else process.env['MLFLOW_HTTP_REQUEST_MAX_RETRIES'] = savedRetries;
  });

  it('marks the experiment and its runs deleted (lifecycle_stage "deleted") after the stopped run ended', async () => {
    const run = await stack.admin.startRun('fraud');
    const reader = MlflowRestStore.create({ uri: fake.url, env: {}, maxRetries: 0 });
    try {
      await eventually(async () => reader.getExperimentByName('fraud').catch(() => undefined));
      const deleted = await tributary(['federation', 'delete', 'fraud', '--force', '--yes']);
      expect(deleted.code, deleted.stderr).toBe(0);
      expect(deleted.stdout).toContain(`Stopped run ${run.id} first.`);
      const experiment = await eventually(async () => {
        const e = await reader.getExperimentByName('fraud');
        return e.lifecycleStage === 'deleted' ? e : undefined;
      });
      expect(fake.requestsTo('experiments/delete').map((r) => r.body)).toEqual([{ experiment_id: experiment.experimentId }]);
      // Hidden from a search of active runs, as MLflow hides runs of a deleted experiment.
      expect((await reader.searchRuns({ experimentIds: [experiment.experimentId] })).runs).toEqual([]);
      const all = await searchAllRuns(fake.url, experiment.experimentId);
      expect(all).toEqual([{ status: 'KILLED', lifecycle_stage: 'deleted' }]);
    } finally {
      await reader.close();
    }
  });

  it('marks the experiment deleted once the MLflow server is back, when it was down at the delete', async () => {
    await stack.admin.createFederation({ name: 'loans', settings: { rounds: 2, minSites: 1, roundDeadlineSeconds: 300 }, initialModel: encodeSafetensors(toyModel()) });
    await addSite(stack, 'loans-site', ['loans']);
    await stack.admin.startRun('loans');
    const reader = MlflowRestStore.create({ uri: fake.url, env: {}, maxRetries: 0 });
    try {
      const experiment = await eventually(async () => reader.getExperimentByName('loans').catch(() => undefined));
      await stack.coordinator.tracker.idle();
      fake.unavailable = true;
      const deleted = await tributary(['federation', 'delete', 'loans', '--force', '--yes']);
      expect(deleted.code, deleted.stderr).toBe(0);
      // The deletion waits in the outbox, behind the stopped run's end, while the server is down.
      await eventually(() => (stack.coordinator.tracker.health().lastError !== undefined ? true : undefined));
      expect(stack.coordinator.tracker.health().outboxDepth).toBeGreaterThan(0);
      fake.unavailable = false;
      await eventually(async () => ((await reader.getExperiment(experiment.experimentId)).lifecycleStage === 'deleted' ? true : undefined));
      expect(await searchAllRuns(fake.url, experiment.experimentId)).toEqual([{ status: 'KILLED', lifecycle_stage: 'deleted' }]);
    } finally {
      fake.unavailable = false;
      await reader.close();
    }
  });
});

/** Status and lifecycle stage of every run of an experiment, deleted ones too (run_view_type ALL). */
async function searchAllRuns(url: string, experimentId: string): Promise<Array<{ status: string; lifecycle_stage: string }>> {
  const res = await fetch(`${url}/api/2.0/mlflow/runs/search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ experiment_ids: [experimentId], run_view_type: 'ALL' }),
  });
  const body = (await res.json()) as { runs?: Array<{ info: { status: string; lifecycle_stage: string } }> };
  return (body.runs ?? []).map((r) => ({ status: r.info.status, lifecycle_stage: r.info.lifecycle_stage }));
}
