import { join } from 'node:path';
import {
  CHUNK_INDEX_HEADER,
  STREAM_PAYLOADS,
  encodeManifest,
  encodeSafetensors,
  generateSigningKey,
  newUpdateId,
  openVerdict,
  sha256Hex,
  subjects,
  tensor,
  tensorSpecsOf,
  type Refusal,
  type SigningKey,
  type TensorMap,
  type UpdateManifest,
  type UpdateManifest__Output,
  type UpdateStatus__Output,
} from '@tributary/proto';
import { headers } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COORDINATOR_DEFAULTS } from '../../coordinator/src/config/coordinator-options.js';
import { ensureStreams } from '../../coordinator/src/ingest/streams.js';
import { UpdateIngest } from '../../coordinator/src/ingest/update-ingest.js';
import { silentLogger } from '../../coordinator/src/observability/logger.js';
import { CoordinatorMetrics } from '../../coordinator/src/observability/metrics.js';
import type { Admission, AdmissionContext, UpdateAdmission } from '../../coordinator/src/rounds/admission.js';
import { BlobStore } from '../../coordinator/src/state/blob-store.js';
import type { VerifiedUpdate } from '../../coordinator/src/updates/verified-update.js';
import { signedEnvelope, siteWrite, startDataPlane, type DataPlane } from '../helpers/data-plane.js';

const FED = 'slots';
const model: TensorMap = { w: tensor('F32', [4], new Float32Array([1, 2, 3, 4])) };
const context: AdmissionContext = {
  modelSpec: tensorSpecsOf(model),
  globalModel: model,
  normBound: 0,
  normMode: 'refuse',
  maxPayloadBytes: 2 ** 20,
  heterogeneous: true,
  expectsPayload: true,
};

/** Round stand-in: admits every update and keeps every verified payload. */
class AcceptingRound implements UpdateAdmission {
  async admit(_manifest: UpdateManifest__Output): Promise<Admission> {
    return { ok: true, context };
  }
  async deliver(update: VerifiedUpdate): Promise<Refusal | undefined> {
    try {
      await update.commit();
      return undefined;
    } finally {
      await update.discard();
    }
  }
  async noteRefusal(): Promise<void> {}
}

describe('the ingest with one slot for large updates', () => {
  let plane: DataPlane;
  let ingest: UpdateIngest;
  const verdicts: UpdateStatus__Output[] = [];
  const coordinatorKey = generateSigningKey('coordinator');
  const big = generateSigningKey('big');
  const small = generateSigningKey('small');
  const big2 = generateSigningKey('big2');

  beforeAll(async () => {
    plane = await startDataPlane('tributary-slots-');
    await plane.state.write([siteWrite('big', big, 'APPROVED', [FED]), siteWrite('small', small, 'APPROVED', [FED]), siteWrite('big2', big2, 'APPROVED', [FED])]);
    plane.nc.subscribe(`trib.${FED}.verdict.*`, {
      callback: (_err, msg) => {
        const opened = openVerdict(msg.data, coordinatorKey.publicKey);
        if (opened.ok) verdicts.push(opened.status);
      },
    });
    ingest = new UpdateIngest({
      nc: plane.nc,
      state: plane.state,
      blobs: new BlobStore(join(plane.dir, 'blobs')),
      admission: new AcceptingRound(),
      metrics: new CoordinatorMetrics(),
      verdictKey: coordinatorKey,
      stagingDir: join(plane.dir, 'staging'),
      logger: silentLogger(),
      // Long enough that a withheld chunk is never given up on while a test runs.
      payloadTimeoutMs: 120_000,
      consumerName: 'tributary-ingest',
      concurrency: 1,
      smallConcurrency: 2,
      smallPayloadBytes: 1024,
      smallInFlightBytes: 2048,
      minUploadBytesPerSecond: COORDINATOR_DEFAULTS.minUploadBytesPerSecond,
      minUploadMs: COORDINATOR_DEFAULTS.minUploadMs,
      ackWaitMs: COORDINATOR_DEFAULTS.ingestAckWaitMs,
      maxDeliveries: COORDINATOR_DEFAULTS.ingestMaxDeliveries,
      retryDelayMs: COORDINATOR_DEFAULTS.ingestRetryDelayMs,
      pullAheadBytes: COORDINATOR_DEFAULTS.payloadPullAheadBytes,
      stopTimeoutMs: 1_000,
      heldDeliveriesPath: join(plane.dir, 'ingest-held.json'),
      ensureStreams: () => ensureStreams(plane.jsm),
    });
    await ingest.start();
  });

  afterAll(async () => {
    await ingest?.stop();
    await plane?.stop();
  });

  /** Publishes the chunks but those withheld, then the signed manifest; answers a publisher of the withheld ones. */
  async function submit(site: string, key: SigningKey, runId: string, payload: Buffer, flavor: string, chunkSize: number, withhold: number[] = []): Promise<() => Promise<void>> {
    const updateId = newUpdateId();
    const chunkCount = Math.ceil(payload.length / chunkSize);
    const publish = async (i: number): Promise<void> => {
      const h = headers();
      h.set(CHUNK_INDEX_HEADER, String(i));
      await plane.js.publish(subjects.sitePayload(FED, site, updateId), payload.subarray(i * chunkSize, (i + 1) * chunkSize), { msgID: `${site}.${updateId}.${i}`, headers: h });
    };
    for (let i = 0; i < chunkCount; i++) if (!withhold.includes(i)) await publish(i);
    const manifest: UpdateManifest = {
      federation: FED,
      runId,
      round: 1,
      site,
      updateId,
      createdAtMs: Date.now(),
      numExamples: 1,
      metrics: {},
      payloadSize: payload.length,
      payloadSha256: sha256Hex(payload),
      chunkCount,
      chunkSize,
      tensors: flavor === 'tensors' ? tensorSpecsOf(model) : [],
      flavor,
      baseVersion: 1,
    };
    await plane.js.publish(subjects.update(FED, runId, 1, site), signedEnvelope('update', encodeManifest(manifest), key), { msgID: updateId });
    return async () => {
      for (const i of withhold) await publish(i);
    };
  }

  async function readers(site: string): Promise<number> {
    const consumers = await plane.jsm.consumers.list(STREAM_PAYLOADS).next();
    return consumers.filter((c) => [c.config.filter_subject, ...(c.config.filter_subjects ?? [])].some((s) => s?.startsWith(`trib.${FED}.payload.${site}.`))).length;
  }

  it('verifies a small update while the only large slot waits for a slow upload', async () => {
    const rest = await submit('big', big, 'runbig', Buffer.alloc(4096, 7), 'onnx', 1024, [3]);
    await expect.poll(() => readers('big'), { timeout: 15_000 }).toBeGreaterThan(0);

    await submit('small', small, 'runsmall', encodeSafetensors(model), 'tensors', 64);
    await expect.poll(() => verdicts.find((v) => v.runId === 'runsmall')?.state, { timeout: 15_000 }).toBe('UPDATE_STATE_ACCEPTED');
    expect(verdicts.find((v) => v.runId === 'runbig')).toBeUndefined();

    await rest();
    await expect.poll(() => verdicts.find((v) => v.runId === 'runbig')?.state, { timeout: 15_000 }).toBe('UPDATE_STATE_ACCEPTED');
  });

  it('keeps an update claiming more than the small size to the large slot, whatever small slots are free', async () => {
    const rest = await submit('big', big, 'runbig-2', Buffer.alloc(4096, 8), 'onnx', 1024, [3]);
    await expect.poll(() => readers('big'), { timeout: 15_000 }).toBeGreaterThan(0);
    await submit('big2', big2, 'runbig2', Buffer.alloc(1025, 9), 'onnx', 1024);
    await submit('small', small, 'runsmall-2', encodeSafetensors(model), 'tensors', 64);
    await expect.poll(() => verdicts.find((v) => v.runId === 'runsmall-2')?.state, { timeout: 15_000 }).toBe('UPDATE_STATE_ACCEPTED');
    expect(verdicts.find((v) => v.runId === 'runbig2')).toBeUndefined();

    await rest();
    await expect.poll(() => verdicts.find((v) => v.runId === 'runbig2')?.state, { timeout: 15_000 }).toBe('UPDATE_STATE_ACCEPTED');
    expect(verdicts.find((v) => v.runId === 'runbig-2')?.state).toBe('UPDATE_STATE_ACCEPTED');
  });
});
