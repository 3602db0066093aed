import { EnsembleModel, SiteClient } from '@tributary/client-sdk';
import type { TrainResult } from '@tributary/client-sdk';
import { encodeSafetensors, sha256Hex, tensor } from '@tributary/proto';
import type { TensorMap } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSite, startStack, type Stack } from '../helpers/stack.js';

/** What each site trains: models of different architectures, one of them opaque to the coordinator. */
function siteModel(site: string): { result: TrainResult; payload: Uint8Array } {
  switch (site) {
    case 'site-a': {
      const weights: TensorMap = {
        'softmax.weight': tensor('F32', [3, 10], Float32Array.from({ length: 30 }, (_, i) => i / 30)),
        'softmax.bias': tensor('F32', [3], Float32Array.of(0.1, 0.2, 0.3)),
      };
      return { result: { weights, numExamples: 40, metrics: { val_accuracy: 0.8 } }, payload: encodeSafetensors(weights) };
    }
    case 'site-b': {
      const weights: TensorMap = {
        'rff.omega': tensor('F32', [24, 4], new Float32Array(96).fill(0.5)),
        'rff.phase': tensor('F64', [24], new Float64Array(24).fill(1)),
        'softmax.weight': tensor('F32', [3, 24], new Float32Array(72).fill(-0.25)),
      };
      return { result: { weights, numExamples: 25, metrics: { val_accuracy: 0.6 } }, payload: encodeSafetensors(weights) };
    }
    default: {
      const bytes = new TextEncoder().encode(JSON.stringify({ kind: 'gaussian-naive-bayes', logPriors: [-1.1, -1.1, -1.1] }));
      return { result: { payload: { flavor: 'custom:naive-bayes', bytes }, numExamples: 35, metrics: { val_accuracy: 0.6 } }, payload: bytes };
    }
  }
}

describe('an ensemble federation over real gRPC, NATS JetStream and LevelDB', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('commits one model version holding every site’s model, weighted by the validation metric and traceable to its update', async () => {
    await stack.admin.createFederation({
      name: 'iris-ensemble',
      settings: {
        strategy: 'ensemble',
        strategyOptions: { weight_by: 'metric:val_accuracy', combine: 'vote' },
        rounds: 1,
        minSites: 3,
        roundDeadlineSeconds: 60,
      },
      initialModel: encodeSafetensors({ placeholder: tensor('F32', [1], new Float32Array(1)) }),
    });
    const sites = ['site-a', 'site-b', 'site-c'];
    const keys = await Promise.all(sites.map((s) => addSite(stack, s, ['iris-ensemble'])));

    const sent = new Map<string, { sha256: string; updateId?: string; payload: Uint8Array; config: Readonly<Record<string, string>> }>();
    const controller = new AbortController();
    const clients = await Promise.all(keys.map((key) => SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key })));
    const participations = clients.map((client) =>
      client.participate(
        'iris-ensemble',
        async (task) => {
          // A heterogeneous federation sends no spec: each site ships its own architecture.
          expect(task.modelSpec).toEqual([]);
          const { result, payload } = siteModel(client.site);
          sent.set(client.site, { sha256: sha256Hex(payload), payload, config: task.config });
          return result;
        },
        {
          signal: controller.signal,
          maxTasks: 1,
          onVerdict: (v) => {
            const entry = sent.get(client.site);
            if (entry !== undefined) entry.updateId = v.updateId;
          },
        },
      ),
    );

    const run = await stack.admin.startRun('iris-ensemble');
    const ended = await stack.admin.waitForRun(run.id);
    // Each site stops by itself after its one task and verdict; the abort only cleans up.
    const summaries = await Promise.all(participations);
    controller.abort();
    await Promise.all(clients.map((c) => c.close()));
    expect(ended.status).toBe('RUN_STATUS_FINISHED');
    expect(summaries.map((s) => s.accepted)).toEqual([1, 1, 1]);
    for (const site of sites) expect(sent.get(site)?.config).toMatchObject({ weight_by: 'metric:val_accuracy' });

    const versions = await stack.admin.listModelVersions('iris-ensemble');
    const v2 = versions.find((v) => v.version === 2);
    expect(v2?.strategy).toBe('ensemble');
    expect(v2?.metrics).toMatchObject({ ensemble_members: 3, ensemble_pruned: 0 });

    const download = await stack.admin.downloadModel('iris-ensemble', 2);
    expect(sha256Hex(download.bytes)).toBe(v2?.sha256);
    const model = EnsembleModel.decode(download.bytes);
    expect(model.combine).toBe('vote');
    expect(model.members.map((m) => m.site)).toEqual(['site-a', 'site-b', 'site-c']); // by weight, ties by site name
    const total = 0.8 + 0.6 + 0.6;
    const expectedWeight: Record<string, number> = { 'site-a': 0.8 / total, 'site-b': 0.6 / total, 'site-c': 0.6 / total };

    for (const member of model.members) {
      const contribution = v2?.contributions.find((c) => c.updateId === member.updateId);
      // The lineage traces each member to its site and the digest of the payload it sent.
      expect(contribution?.site).toBe(member.site);
      expect(contribution?.payloadSha256).toBe(sent.get(member.site)?.sha256);
      expect(member.updateId).toBe(sent.get(member.site)?.updateId);
      expect(member.weight).toBeCloseTo(expectedWeight[member.site]!, 12);
      if (member.flavor === 'tensors') {
        expect(sha256Hex(encodeSafetensors(member.tensors ?? {}))).toBe(sent.get(member.site)?.sha256);
      } else {
        expect(member.flavor).toBe('custom:naive-bayes');
        expect(member.bytes).toEqual(sent.get(member.site)?.payload);
      }
    }
    expect(model.members.find((m) => m.site === 'site-b')?.tensors?.['softmax.weight']?.shape).toEqual([3, 24]);
    expect(model.members.find((m) => m.site === 'site-a')?.tensors?.['softmax.weight']?.shape).toEqual([3, 10]);
  });
});
