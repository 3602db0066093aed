import { SiteClient } from '@tributary/client-sdk';
import { decodeSafetensors, encodeSafetensors, tensor, type SigningKey, type TensorMap } from '@tributary/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { addSites, interruptedUpload, metricValue, startProcessStack, type ProcessStack } from '../helpers/process-stack.js';
import { prepareUpload } from '../helpers/raw-site.js';
import { eventually } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';



describe('nats-server restarted under a running federation', () => {
  let stack: ProcessStack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('keeps the coordinator process up through a restart during a payload read, and accepts the update once', async () => {
    stack = await startProcessStack();
    const base = toyModel();
    await stack.admin.createFederation({ name: 'midread', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(base) });
    const key = (await addSites(stack, 'midread', ['reader']))['reader'] as SigningKey;
    const run = await stack.admin.startRun('midread');
    const upload = prepareUpload({ key, site: 'reader', federation: 'midread', runId: run.id, round: 1, weights: toyTrain(base, 'reader', 1), chunkSize: 16 });
    // The coordinator is reading the payload, waiting for the second half, when NATS restarts.
    const live = stack;
    const verdict = await interruptedUpload(live, upload, { federation: 'midread', site: 'reader', verdictMs: 60_000 }, () => live.restartNats());
    expect(verdict).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
    expect(stack.exitOf()).toBeUndefined();
    expect((await stack.admin.getRound(run.id, 1)).accepted.map((a) => a.updateId)).toEqual([upload.updateId]);
    expect(metricValue(await stack.metricsText(), 'tributary_updates_accepted_total')).toBe(1);
  }, 120_000);

  it('creates the streams and consumers again when nats-server comes back without its storage, and takes updates again', async () => {
    stack = await startProcessStack();
    const base = toyModel();
    await stack.admin.createFederation({ name: 'wiped', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(base) });
    const key = (await addSites(stack, 'wiped', ['survivor']))['survivor'] as SigningKey;
    const run = await stack.admin.startRun('wiped');
    await stack.restartNats({ wipe: true });
    await eventually(async () => ((await (stack as ProcessStack).heldManifests().catch(() => undefined)) === 0 ? true : undefined), 30_000);
    const raw = await stack.rawSite();
    try {
      expect(await raw.send({ key, site: 'survivor', federation: 'wiped', runId: run.id, round: 1, weights: toyTrain(base, 'survivor', 1) })).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    } finally {
      await raw.close();
    }
    expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
    expect(stack.exitOf()).toBeUndefined();
  }, 120_000);

  it('lets an SDK site finish an upload that a restart interrupted, with the update counted once', async () => {
    stack = await startProcessStack();
    // 8 MiB of weights in 64 KiB chunks: the restart lands while chunks are in flight.
    const base: TensorMap = { w: tensor('F32', [2 ** 21], new Float32Array(2 ** 21).fill(0.5)) };
    await stack.admin.createFederation({ name: 'midupload', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(base) });
    const key = (await addSites(stack, 'midupload', ['uploader']))['uploader'] as SigningKey;
    const run = await stack.admin.startRun('midupload');
    const warnings: string[] = [];
    const logger = { info: () => undefined, debug: () => undefined, warn: (_: object, msg?: string) => void warnings.push(msg ?? '') };
    const client = await SiteClient.connect({ coordinator: stack.address, nats: stack.nats.url, key, chunkSize: 64 * 1024, logger });
    let restarted: Promise<void> | undefined;
    try {
      const summary = await client.participate(
        'midupload',
        async (task) => {
          const w = Float32Array.from(task.model['w']?.data as Float32Array, (v, i) => v + (i % 7) * 0.125);
          // nats-server goes down as the upload starts, and comes back while the SDK retries.
          restarted = (stack as ProcessStack).restartNats();
          return { weights: { w: tensor('F32', [w.length], w) }, numExamples: 10 };
        },
        { maxTasks: 1 },
      );
      expect(summary).toMatchObject({ accepted: 1 });
      // The restart did interrupt the upload: some chunk publishes failed and were retried.
      expect(warnings).toContain('NATS publish failed; retrying');
    } finally {
      await restarted;
      await client.close();
    }
    expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
    expect((await stack.admin.getRound(run.id, 1)).accepted).toHaveLength(1);
    expect(metricValue(await stack.metricsText(), 'tributary_updates_accepted_total')).toBe(1);
    const model = decodeSafetensors((await stack.admin.downloadModel('midupload', 2)).bytes).tensors['w']?.data as Float32Array;
    expect([model[0], model[1], model[6], model[7]]).toEqual([0.5, 0.625, 1.25, 0.5]);
    expect(stack.exitOf()).toBeUndefined();
  }, 120_000);

  it('lets an SDK site deliver its update once when NATS stays down longer than the old eight-attempt budget', async () => {
    stack = await startProcessStack();
    const base = toyModel();
    await stack.admin.createFederation({ name: 'outage', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 600 }, initialModel: encodeSafetensors(base) });
    const key = (await addSites(stack, 'outage', ['patient']))['patient'] as SigningKey;
    const run = await stack.admin.startRun('outage');
    // The highest attempt number of a failed publish so far; the old default gave up after the 8th.
    let attempts = 0;
    const logger = {
      info: () => undefined,
      debug: () => undefined,
      warn: (obj: object, msg?: string) => {
        if (msg === 'NATS publish failed; retrying') attempts = Math.max(attempts, Number((obj as { attempt?: number }).attempt));
      },
    };
    // No retry option: the default must not give up.
    const client = await SiteClient.connect({ coordinator: stack.address, nats: stack.nats.url, key, logger });
    const live = stack;
    let restarted: Promise<void> | undefined;
    let downMs = 0;
    try {
      const summary = await client.participate(
        'outage',
        async (task) => {
          let down: () => void = () => undefined;
          const isDown = new Promise<void>((resolve) => (down = resolve));
          restarted = live.restartNats({
            // NATS stays down until one publish has failed more often than the old budget allowed.
            whileDown: async () => {
              const since = Date.now();
              down();
              await eventually(async () => (attempts >= 10 ? true : undefined), 200_000);
              downMs = Date.now() - since;
            },
          });
          await isDown;
          return { weights: toyTrain(task.model, 'patient', task.round), numExamples: 10 };
        },
        { maxTasks: 1 },
      );
      expect(summary).toMatchObject({ accepted: 1 });
    } finally {
      await restarted;
      await client.close();
    }
    console.log(`NATS was down ${(downMs / 1000).toFixed(1)} s; one publish failed ${attempts} times before it went through (timings noisy: shared machine)`);
    expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
    expect((await stack.admin.getRound(run.id, 1)).accepted.map((a) => a.site)).toEqual(['patient']);
    expect(metricValue(await stack.metricsText(), 'tributary_updates_accepted_total')).toBe(1);
  }, 300_000);
});
