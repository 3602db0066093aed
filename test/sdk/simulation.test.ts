import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulate, type SimulationProgress } from '@tributary/client-sdk/simulation';
import { encodeSafetensors, initialTensors, parseModelSpec } from '@tributary/proto';
import { startStack, type Stack } from '../helpers/stack.js';

describe('the simulation of a built-in example', () => {
  let stack: Stack;
  let dir: string;

  const model = (spec: string): Buffer => encodeSafetensors(initialTensors(parseModelSpec(spec)));
  const options = (federation: string, sites: number) => ({
    coordinator: stack.coordinator.address,
    nats: stack.nats.url,
    adminKey: stack.adminKey,
    federation,
    sites,
    dir: join(dir, federation),
  });

  beforeAll(async () => {
    stack = await startStack();
    dir = await mkdtemp(join(tmpdir(), 'tributary-simulation-'));
    await stack.admin.createFederation({ name: 'iris', settings: { rounds: 2, minSites: 3, roundDeadlineSeconds: 60 }, initialModel: model('w:F32:[4,3],b:F32:[3]') });
    await stack.admin.createFederation({ name: 'mnist', initialModel: model('w:F32:[784,10],b:F32:[10]') });
  });

  afterAll(async () => {
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('enrolls N sites with invitations, runs the federation to its end, and scores the model', async () => {
    const events: SimulationProgress[] = [];
    const result = await simulate({ ...options('iris', 3), onProgress: (e) => events.push(e) });
    expect(result.run.status).toBe('RUN_STATUS_FINISHED');
    expect(result.sites.map((s) => [s.name, s.enrolled, s.accepted, s.refused])).toEqual([
      ['iris-sim-1', true, 2, 0],
      ['iris-sim-2', true, 2, 0],
      ['iris-sim-3', true, 2, 0],
    ]);
    expect(result.evaluation['accuracy']).toBeGreaterThan(0.8);
    expect(events.filter((e) => e.type === 'round-ended')).toHaveLength(2);
  });

  it('keeps each site key in a directory of its own, readable by its owner only', async () => {
    for (const n of [1, 2, 3]) {
      expect((await stat(join(dir, 'iris', `iris-sim-${n}`, 'site.key'))).mode & 0o777).toBe(0o600);
    }
  });

  it('gives every site its own key, known to the coordinator as that site', async () => {
    const sites = await stack.admin.listSites('iris');
    expect(new Set(sites.map((s) => s.keyId)).size).toBe(3);
  });

  it('reuses the sites it enrolled before, and enrolls only the new ones', async () => {
    const result = await simulate({ ...options('iris', 4), rounds: 1 });
    expect(result.run.status).toBe('RUN_STATUS_FINISHED');
    expect(result.sites.map((s) => s.enrolled)).toEqual([false, false, false, true]);
    expect(result.run.rounds).toBe(1);
  });

  it('refuses a federation whose model is not the example model, saying how to make one', async () => {
    await expect(simulate(options('mnist', 2))).rejects.toMatchObject({ reason: 'SCHEMA_MISMATCH', details: { hint: expect.stringContaining('model init --spec "w:F32:[4,3],b:F32:[3]"') } });
    expect(await stack.admin.listSites('mnist')).toEqual([]);
  });

  it('refuses more sites than the example can shard', async () => {
    await expect(simulate(options('iris', 1000))).rejects.toMatchObject({ reason: 'INVALID_ARGUMENT' });
  });

  it('refuses an unknown example, naming the built-in ones', async () => {
    await expect(simulate({ ...options('iris', 2), example: 'cifar' })).rejects.toThrow(/built in: quickstart/);
  });
});
