import { SiteClient } from '@tributary/client-sdk';
import {
  RpcClient,
  decodeSafetensors,
  encodeSafetensors,
  generateSigningKey,
  tensor,
  type GetUpdateStatusRequest,
  type SigningKey,
  type TensorMap,
  type UpdateStatus__Output,
} from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from '../helpers/numeric.js';
import { RawSite } from '../helpers/raw-site.js';
import { addSite, eventually, refusalsCounted, startStack, type Stack } from '../helpers/stack.js';
import { referenceFedAvg, shifted, toyModel, toyTrain } from '../helpers/training.js';

describe('refused updates change nothing', () => {
  let stack: Stack;
  let raw: RawSite;
  /** SiteService as an admin, to ask for update statuses. */
  let statuses: RpcClient;
  let runId = '';
  let keys: Record<string, SigningKey> = {};
  let selected: string[] = [];
  let unselected = '';
  const federation = 'guarded';
  const base = toyModel();

  beforeAll(async () => {
    stack = await startStack();
    raw = await stack.rawSite();
    statuses = new RpcClient({ address: stack.coordinator.address, key: stack.adminKey, service: 'SiteService' });
    await stack.admin.createFederation({
      name: federation,
      settings: { rounds: 1, minSites: 2, sampleCount: 2, roundDeadlineSeconds: 120 },
      initialModel: encodeSafetensors(base),
    });
    keys = {
      'member-1': await addSite(stack, 'member-1', [federation]),
      'member-2': await addSite(stack, 'member-2', [federation]),
      'member-3': await addSite(stack, 'member-3', [federation]),
      revoked: await addSite(stack, 'revoked', [federation]),
    };
    await stack.admin.revokeSite('revoked');
    const run = await stack.admin.startRun(federation);
    runId = run.id;
    const round = await stack.admin.getRound(runId, 1);
    selected = round.selectedSites;
    unselected = ['member-1', 'member-2', 'member-3'].find((s) => !selected.includes(s)) ?? '';
  });
  afterAll(async () => {
    statuses?.close();
    await raw?.close();
    await stack?.stop();
  });

  const honest = (site: string): TensorMap => toyTrain(base, site, 1);
  const send = (site: string, extra: Partial<Parameters<RawSite['send']>[0]> = {}) =>
    raw.send({ key: keys[site] as SigningKey, site, federation, runId, round: 1, weights: honest(site), ...extra });

  const refusedCount = (reason: string): Promise<number> => refusalsCounted(stack.coordinator.metrics, reason);

  /**
   * Publishes a manifest no site can be held to and expects it counted as refused with `reason`,
   * answered on no verdict subject, and still PENDING. The coordinator publishes every verdict on
   * one connection, in order: once a later, attributable update's verdict has arrived, a verdict
   * about the first one would have arrived before it.
   */
  async function expectCountedNotAnswered(reason: string, publish: () => Promise<string>): Promise<void> {
    const before = await refusedCount(reason);
    await raw.hearingVerdicts(federation, async (heard) => {
      const updateId = await publish();
      await eventually(async () => (await refusedCount(reason)) === before + 1);
      const later = await send(selected[0] ?? '', { round: 2 });
      expect(later).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason: 'WRONG_ROUND' });
      expect(heard).toEqual([later.updateId]);
      const status = await statuses.unary<GetUpdateStatusRequest, UpdateStatus__Output>('GetUpdateStatus', { federation, updateId });
      expect(status.state).toBe('UPDATE_STATE_PENDING');
    });
  }

  it('selects two of the three members', () => {
    expect(selected).toHaveLength(2);
    expect(unselected).not.toBe('');
  });

  it('counts a forged signature and answers no verdict for it', async () => {
    const site = selected[0] ?? '';
    await expectCountedNotAnswered('SIGNATURE_INVALID', () =>
      raw.publish({ key: keys[site] as SigningKey, signer: generateSigningKey('forger'), site, federation, runId, round: 1, weights: honest(site) }),
    );
  });

  it('counts an unknown key and answers no verdict for it', async () => {
    await expectCountedNotAnswered('UNKNOWN_KEY', () =>
      raw.publish({ key: generateSigningKey('stranger'), site: selected[0] ?? '', federation, runId, round: 1, weights: honest('x') }),
    );
  });

  it('counts a revoked key and answers no verdict for it', async () => {
    await expectCountedNotAnswered('KEY_REVOKED', () =>
      raw.publish({ key: keys['revoked'] as SigningKey, site: 'revoked', federation, runId, round: 1, weights: honest('revoked') }),
    );
  });

  it('refuses a site that was not selected', async () => {
    expect(await send(unselected)).toMatchObject({ reason: 'SITE_NOT_SELECTED' });
  });

  it('refuses an update for the wrong round', async () => {
    expect(await send(selected[0] ?? '', { round: 2 })).toMatchObject({ reason: 'WRONG_ROUND' });
  });

  it('refuses a payload whose digest does not match the manifest', async () => {
    const other = encodeSafetensors(toyTrain(base, 'someone-else', 9));
    expect(await send(selected[1] ?? '', { payloadOverride: other })).toMatchObject({ reason: 'DIGEST_MISMATCH' });
  });

  it('refuses wrong tensor names, shapes and dtypes', async () => {
    const b = base['b'];
    const w = base['w'];
    if (!b || !w) throw new Error('toy model changed');
    const wrongName = { w, bias: b };
    const wrongShape = { w: tensor('F32', [3, 2], new Float32Array(w.data as Float32Array)), b };
    const wrongDtype = { w: tensor('F64', [2, 3], Float64Array.from(w.data as Float32Array)), b };
    for (const weights of [wrongName, wrongShape, wrongDtype]) {
      expect(await send(selected[1] ?? '', { weights })).toMatchObject({ reason: 'SCHEMA_MISMATCH' });
    }
  });

  it('refuses NaN values', async () => {
    const weights = honest(selected[1] ?? '');
    (weights['w']?.data as Float32Array)[2] = NaN;
    expect(await send(selected[1] ?? '', { weights })).toMatchObject({ reason: 'NON_FINITE' });
  });

  it('survives garbage bytes on the manifest subject and counts them', async () => {
    await raw.sendGarbage(`trib.${federation}.update.${runId}.1.${selected[0] ?? ''}`, new Uint8Array([0xde, 0xad, 0xbe, 0xef, 1, 2, 3]));
    const count = await eventually(async () => {
      const metric = await stack.coordinator.metrics.registry.getSingleMetricAsString('tributary_updates_refused_total');
      return /reason="MALFORMED_ENVELOPE"} 1/.test(metric) ? true : undefined;
    });
    expect(count).toBe(true);
  });

  it('accepts an honest update and refuses its replay', async () => {
    expect(await send(selected[0] ?? '')).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    const last = raw.lastEnvelope;
    if (!last) throw new Error('nothing sent');
    await raw.sendGarbage(last.subject, last.bytes); // same signed bytes, new NATS message
    await eventually(async () => {
      const metric = await stack.coordinator.metrics.registry.getSingleMetricAsString('tributary_updates_refused_total');
      return /reason="REPLAYED_UPDATE"} 1/.test(metric) ? true : undefined;
    });
    expect((await stack.admin.getRound(runId, 1)).accepted).toHaveLength(1);
  });

  it('commits exactly the FedAvg of the two honest updates, untouched by the refused ones', async () => {
    const second = selected[1] ?? '';
    expect(await send(second, { numExamples: 30 })).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    const run = await stack.admin.waitForRun(runId);
    expect(run.status).toBe('RUN_STATUS_FINISHED');
    const expected = referenceFedAvg([
      { weights: honest(selected[0] ?? ''), numExamples: 10 },
      { weights: honest(second), numExamples: 30 },
    ]);
    const model = decodeSafetensors((await stack.admin.downloadModel(federation, 2)).bytes).tensors;
    for (const [name, values] of Object.entries(expected)) expectClose(model[name]?.data as Float32Array, values, 1e-6);
    const round = await stack.admin.getRound(runId, 1);
    expect(round.accepted.map((a) => a.site).sort()).toEqual([...selected].sort());
    const reasons = new Set(round.refused.map((r) => r.reason));
    // Forgeries are counted but never attributed to a round: their contents are not trusted.
    const refusedMetric = await stack.coordinator.metrics.registry.getSingleMetricAsString('tributary_updates_refused_total');
    expect(refusedMetric).toMatch(/reason="SIGNATURE_INVALID"} 1/);
    expect(refusedMetric).toMatch(/reason="UNKNOWN_KEY"} 1/);
    expect(refusedMetric).toMatch(/reason="KEY_REVOKED"} 1/);
    for (const reason of ['SITE_NOT_SELECTED', 'WRONG_ROUND', 'DIGEST_MISMATCH', 'SCHEMA_MISMATCH', 'NON_FINITE']) {
      expect(reasons.has(reason), reason).toBe(true);
    }
  });

  it('refuses a straggler after the round has closed', async () => {
    expect(await send(unselected, { round: 1 })).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason: 'RUN_NOT_RUNNING' });
  });

  it('lets a site ask for its verdict over gRPC', async () => {
    const client = await SiteClient.connect({ coordinator: stack.coordinator.address, nats: stack.nats.url, key: keys[selected[0] ?? ''] as SigningKey });
    expect(client.site).toBe(selected[0]);
    await client.close();
  });
});

describe('a norm bound', () => {
  let stack: Stack;
  let raw: RawSite;
  beforeAll(async () => {
    stack = await startStack();
    raw = await stack.rawSite();
  });
  afterAll(async () => {
    await raw?.close();
    await stack?.stop();
  });

  const base = toyModel();
  const far = (): TensorMap => shifted(base, 'w', 30);
  const distance = (model: TensorMap): number => {
    let sum = 0;
    for (const [name, t] of Object.entries(model)) {
      const origin = base[name]?.data as Float32Array;
      (t.data as Float32Array).forEach((v, i) => (sum += (v - (origin[i] ?? 0)) ** 2));
    }
    return Math.sqrt(sum);
  };

  it('refuses an update beyond it with NORM_EXCEEDED by default', async () => {
    await stack.admin.createFederation({ name: 'bounded', settings: { rounds: 1, normBound: 5, roundDeadlineSeconds: 60 }, initialModel: encodeSafetensors(base) });
    const key = await addSite(stack, 'pusher', ['bounded']);
    const run = await stack.admin.startRun('bounded');
    expect(await raw.send({ key, site: 'pusher', federation: 'bounded', runId: run.id, round: 1, weights: far() })).toMatchObject({ reason: 'NORM_EXCEEDED' });
    await stack.admin.stopRun(run.id, 'done');
  });

  it('clips an update back onto the bound when the mode is clip', async () => {
    await stack.admin.createFederation({
      name: 'clipped',
      settings: { rounds: 1, normBound: 5, normBoundMode: 'clip', roundDeadlineSeconds: 60 },
      initialModel: encodeSafetensors(base),
    });
    const key = await addSite(stack, 'clipped-site', ['clipped']);
    const run = await stack.admin.startRun('clipped');
    expect(await raw.send({ key, site: 'clipped-site', federation: 'clipped', runId: run.id, round: 1, weights: far() })).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
    const model = decodeSafetensors((await stack.admin.downloadModel('clipped', 2)).bytes).tensors;
    expect(distance(model)).toBeCloseTo(5, 4);
    expect((await stack.admin.getRound(run.id, 1)).metrics['clipped_updates']).toBe(1);
  });
});
