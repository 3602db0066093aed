import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { COORDINATOR_DEFAULTS } from '../../coordinator/src/config/coordinator-options.js';
import { ensureStreams } from '../../coordinator/src/ingest/streams.js';
import { UpdateIngest } from '../../coordinator/src/ingest/update-ingest.js';
import { CoordinatorMetrics } from '../../coordinator/src/observability/metrics.js';
import { silentLogger } from '../../coordinator/src/observability/logger.js';
import type { Admission, AdmissionContext, UpdateAdmission } from '../../coordinator/src/rounds/admission.js';
import { BlobStore } from '../../coordinator/src/state/blob-store.js';
import { SitePresence } from '../../coordinator/src/sites/presence.js';
import { MemorySiteLastSeenTable, type LevelStateStore } from '../../coordinator/src/state/index.js';
import { toFoldable } from '../../coordinator/src/updates/foldable-update.js';
import type { VerifiedUpdate } from '../../coordinator/src/updates/verified-update.js';
import {
  CHUNK_INDEX_HEADER,
  CHUNK_WINDOW,
  STREAM_PAYLOADS,
  STREAM_UPDATES,
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
import { headers, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signedEnvelope, siteWrite, startDataPlane, type DataPlane } from '../helpers/data-plane.js';
import { eventually, refusalsCounted } from '../helpers/stack.js';

const FED = 'fed1';
const PAYLOAD_TIMEOUT_MS = 1500;

const globalModel: TensorMap = {
  w: tensor('F32', [2, 3], new Float32Array([0, 0, 0, 0, 0, 0])),
  b: tensor('F32', [3], new Float32Array([0, 0, 0])),
};
const modelSpec = tensorSpecsOf(globalModel);

function weights(values: { w?: number[]; b?: number[] } = {}): TensorMap {
  return {
    w: tensor('F32', [2, 3], new Float32Array(values.w ?? [1, 2, 3, 4, 5, 6])),
    b: tensor('F32', [3], new Float32Array(values.b ?? [0.5, -0.5, 0.25])),
  };
}

const baseContext: AdmissionContext = { modelSpec, globalModel, normBound: 0, normMode: 'refuse', maxPayloadBytes: 1024 * 1024, heterogeneous: false, expectsPayload: true };

/** Round-engine stand-in: admits with a fixed context, records what the ingest hands over. */
class RecordingAdmission implements UpdateAdmission {
  context: AdmissionContext = baseContext;
  admitRefusal: Refusal | undefined;
  accepted: { manifest: UpdateManifest__Output; tensors: TensorMap; bytes: number; payload: Buffer }[] = [];
  /** Refusals the ingest attributed to a round (signed by the site the subject names, a member). */
  refused: (Refusal & { manifest: UpdateManifest__Output; updateId: string; site: string })[] = [];
  /** Resolves deliver() when set; lets a test hold an update mid-verdict. */
  gate?: Promise<void>;
  /** Makes the next deliver() throw, before or after recording the update. */
  failNext?: 'before-record' | 'after-record';

  constructor(private readonly state: LevelStateStore) {}

  async admit(_manifest: UpdateManifest__Output): Promise<Admission> {
    return this.admitRefusal ? { ok: false, refusal: this.admitRefusal } : { ok: true, context: this.context };
  }

  async deliver(update: VerifiedUpdate): Promise<Refusal | undefined> {
    try {
      await this.gate;
      const failure = this.failNext;
      this.failNext = undefined;
      if (failure === 'before-record') throw new Error('state store unavailable');
      const payload = Buffer.from(await update.payload());
      const tensors = update.isEvaluation ? {} : (await toFoldable(payload, update.manifest.flavor, this.context, update.layout)).tensors;
      this.accepted.push({ manifest: update.manifest, tensors, bytes: update.bytes, payload });
      await this.state.write([{ kind: 'update', value: record(update.manifest, 'ACCEPTED', '', '') }]);
      if (failure === 'after-record') throw new Error('crashed before answering');
      await update.commit();
      return undefined;
    } finally {
      await update.discard();
    }
  }

  async noteRefusal(manifest: UpdateManifest__Output, refusal: Refusal): Promise<void> {
    this.refused.push({ ...refusal, manifest, updateId: manifest.updateId, site: manifest.site });
  }
}

/** Refusals of manifests that cannot be attributed to their subject's site: counted, never recorded or answered. */
const UNATTRIBUTED = new Set(['MALFORMED_ENVELOPE', 'UNKNOWN_KEY', 'KEY_REVOKED', 'SIGNATURE_INVALID', 'SITE_MISMATCH', 'SUBJECT_MISMATCH', 'NOT_A_MEMBER']);

function record(m: UpdateManifest__Output, state: 'ACCEPTED' | 'REFUSED', reason: string, message: string) {
  return { updateId: m.updateId, federation: m.federation, runId: m.runId, round: m.round, site: m.site, state, reason, message, atMs: Date.now() };
}

interface Submission {
  key: SigningKey;
  site: string;
  runId: string;
  round?: number;
  tensors?: TensorMap;
  /** Raw payload instead of encoded tensors. */
  payload?: Buffer;
  chunkSize?: number;
  /** Chunk indexes not to publish. */
  skipChunks?: number[];
  /** The order to publish chunk indexes in. @default ascending */
  chunkOrder?: number[];
  /** Chunk indexes published only after the manifest, once the ingest waits for them on a consumer. */
  lateChunks?: number[];
  /** Fields overriding what the manifest would honestly say. */
  manifest?: Partial<UpdateManifest>;
  /** Subject overriding the manifest's own. */
  subject?: string;
  /** Signature produced by this key instead, still naming `key`'s id. */
  signWith?: SigningKey;
  /** Nats-Msg-Id of the manifest. @default the update id */
  msgId?: string;
}

describe('UpdateIngest', () => {
  let plane: DataPlane;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let dir: string;
  let state: LevelStateStore;
  let admission: RecordingAdmission;
  let ingest: UpdateIngest;
  let metrics: CoordinatorMetrics;
  let blobs: BlobStore;
  const verdicts: UpdateStatus__Output[] = [];
  /** Messages on the verdict subjects that do not verify with the coordinator's key. */
  const unverified: string[] = [];
  const coordinatorKey = generateSigningKey('coordinator');
  const alpha = generateSigningKey('alpha');
  const beta = generateSigningKey('beta');
  const gone = generateSigningKey('gone');
  const stranger = generateSigningKey('stranger');
  const delta = generateSigningKey('delta');
  let presence: SitePresence;
  let runSeq = 0;
  let runId = '';

  beforeAll(async () => {
    plane = await startDataPlane('tributary-ingest-');
    ({ nc, js, jsm, dir, state } = plane);
    await state.write([siteWrite('alpha', alpha, 'APPROVED', [FED]), siteWrite('beta', beta, 'APPROVED', [FED]), siteWrite('gone', gone, 'REVOKED', [FED]), siteWrite('delta', delta, 'APPROVED', [FED])]);
    nc.subscribe(`trib.${FED}.verdict.*`, {
      callback: (_err, msg) => {
        const opened = openVerdict(msg.data, coordinatorKey.publicKey);
        if (opened.ok) verdicts.push(opened.status);
        else unverified.push(opened.refusal.reason);
      },
    });
    admission = new RecordingAdmission(state);
    blobs = new BlobStore(join(dir, 'blobs'));
    metrics = new CoordinatorMetrics();
    presence = await SitePresence.open({ table: new MemorySiteLastSeenTable(), logger: silentLogger(), writeIntervalMs: 3_600_000 });
    ingest = new UpdateIngest({
      presence,
      nc,
      state,
      blobs,
      admission,
      metrics,
      verdictKey: coordinatorKey,
      stagingDir: join(dir, 'staging'),
      logger: silentLogger(),
      payloadTimeoutMs: PAYLOAD_TIMEOUT_MS,
      consumerName: 'tributary-ingest',
      concurrency: 4,
      minUploadBytesPerSecond: COORDINATOR_DEFAULTS.minUploadBytesPerSecond,
      minUploadMs: COORDINATOR_DEFAULTS.minUploadMs,
      ackWaitMs: COORDINATOR_DEFAULTS.ingestAckWaitMs,
      maxDeliveries: COORDINATOR_DEFAULTS.ingestMaxDeliveries,
      retryDelayMs: COORDINATOR_DEFAULTS.ingestRetryDelayMs,
      pullAheadBytes: COORDINATOR_DEFAULTS.payloadPullAheadBytes,
      stopTimeoutMs: COORDINATOR_DEFAULTS.ingestStopTimeoutMs,
      heldDeliveriesPath: join(dir, 'ingest-held.json'),
      ensureStreams: () => ensureStreams(jsm),
    });
    await ingest.start();
  });

  afterAll(async () => {
    await ingest?.stop();
    await presence?.close();
    await plane?.stop();
  });

  beforeEach(() => {
    runId = `run${++runSeq}`;
    admission.context = baseContext;
    admission.admitRefusal = undefined;
    admission.accepted.length = 0;
    admission.refused.length = 0;
  });

  /** Publishes chunks (acked) then the signed manifest, as a site does. */
  async function submit(s: Submission): Promise<{ updateId: string; manifest: UpdateManifest; payload: Buffer }> {
    const payload = s.payload ?? encodeSafetensors(s.tensors ?? weights());
    const updateId = (s.manifest?.updateId as string | undefined) ?? newUpdateId();
    const chunkSize = s.chunkSize ?? 64;
    const chunkCount = Math.ceil(payload.length / chunkSize);
    const publishChunk = async (i: number): Promise<void> => {
      const h = headers();
      h.set(CHUNK_INDEX_HEADER, String(i));
      await js.publish(subjects.sitePayload(FED, s.site, updateId), payload.subarray(i * chunkSize, (i + 1) * chunkSize), { msgID: `${s.site}.${updateId}.${i}`, headers: h });
    };
    for (const i of s.chunkOrder ?? Array.from({ length: chunkCount }, (_, n) => n)) {
      if (s.skipChunks?.includes(i) || s.lateChunks?.includes(i)) continue;
      await publishChunk(i);
    }
    const tensors = s.tensors ?? weights();
    const manifest: UpdateManifest = {
      federation: FED,
      runId: s.runId,
      round: s.round ?? 1,
      site: s.site,
      updateId,
      createdAtMs: Date.now(),
      numExamples: 10,
      metrics: { loss: 0.5 },
      payloadSize: payload.length,
      payloadSha256: sha256Hex(payload),
      chunkCount,
      chunkSize,
      tensors: tensorSpecsOf(tensors),
      flavor: 'tensors',
      baseVersion: 1,
      ...s.manifest,
    };
    const subject = s.subject ?? subjects.update(FED, s.runId, s.round ?? 1, s.site);
    await js.publish(subject, signedEnvelope('update', encodeManifest(manifest), s.key, s.signWith), { msgID: s.msgId ?? updateId });
    if (s.lateChunks !== undefined && s.lateChunks.length > 0) {
      const payloadSubject = subjects.sitePayload(FED, s.site, updateId);
      await expect.poll(() => waitingConsumers(payloadSubject), { timeout: 15_000 }).toBeGreaterThan(0);
      for (const i of s.lateChunks) await publishChunk(i);
    }
    return { updateId, manifest, payload };
  }

  async function verdictFor(run: string): Promise<UpdateStatus__Output> {
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      const v = verdicts.find((x) => x.runId === run);
      if (v) return v;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no verdict for run ${run}`);
  }

  async function expectRefused(reason: string, site = 'alpha'): Promise<UpdateStatus__Output> {
    const v = await verdictFor(runId);
    expect(v).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason, federation: FED, site, runId });
    expect(v.message).not.toBe('');
    expect(admission.accepted).toHaveLength(0);
    expect(admission.refused.map((r) => r.reason)).toEqual([reason]);
    expect(await metrics.registry.getSingleMetricAsString('tributary_updates_refused_total')).toContain(`reason="${reason}"`);
    expect(unverified).toEqual([]);
    return v;
  }

  const refusedCount = (reason: string): Promise<number> => refusalsCounted(metrics, reason);

  /**
   * Expects the manifest sent after `counted` was taken to be refused with `reason` (counted) and
   * answered to nobody: no verdict for this test's run (or the `<run>x` a manifest claims) or for
   * `updateId` has arrived by the time a later,
   * attributable update's verdict does (one connection publishes them all, in order), and nothing is
   * recorded under its update id.
   */
  async function expectUnanswered(reason: string, counted: number, updateId?: string): Promise<void> {
    expect(UNATTRIBUTED.has(reason)).toBe(true);
    await eventually(async () => (await refusedCount(reason)) === counted + 1);
    const laterRun = `${runId}-later`;
    await submit({ key: alpha, site: 'alpha', runId: laterRun });
    expect((await verdictFor(laterRun)).state).toBe('UPDATE_STATE_ACCEPTED');
    expect(verdicts.filter((v) => v.runId === runId || v.runId === `${runId}x`)).toEqual([]);
    if (updateId !== undefined) {
      expect(verdicts.filter((v) => v.updateId === updateId)).toEqual([]);
      expect(await state.getUpdate(updateId)).toBeUndefined();
    }
    expect(admission.refused).toHaveLength(0);
    expect(unverified).toEqual([]);
  }

  /** Consumers on the payload stream filtered to `subject`: the ingest waiting for chunks not stored yet. */
  async function waitingConsumers(subject: string): Promise<number> {
    const consumers = await jsm.consumers.list(STREAM_PAYLOADS).next();
    return consumers.filter((c) => c.config.filter_subject === subject || c.config.filter_subjects?.includes(subject)).length;
  }

  async function chunksLeft(updateId: string): Promise<number> {
    const info = await jsm.streams.info(STREAM_PAYLOADS, { subjects_filter: `trib.${FED}.payload.*.${updateId}` });
    return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  }

  it('accepts a valid update and hands over exactly the tensors that were sent', async () => {
    const sent = weights({ w: [1.5, -2, 3, 4, 5.25, 6], b: [7, 8, 9] });
    const { updateId, payload } = await submit({ key: alpha, site: 'alpha', runId, tensors: sent });
    const v = await verdictFor(runId);
    expect(v).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED', reason: '', updateId, federation: FED, runId, round: 1, site: 'alpha' });
    expect(admission.accepted).toHaveLength(1);
    const got = admission.accepted[0]!;
    expect(got.manifest.updateId).toBe(updateId);
    expect(got.bytes).toBe(payload.length);
    expect(got.payload.equals(payload)).toBe(true);
    expect(Object.keys(got.tensors)).toEqual(['w', 'b']);
    expect(got.tensors.w).toEqual(sent.w);
    expect(got.tensors.b).toEqual(sent.b);
    expect(admission.refused).toHaveLength(0);
  });

  it('reads only the signer’s own payload subject, so chunks another site injects under the same update id change nothing', async () => {
    const sent = weights({ w: [1, 2, 3, 4, 5, 6], b: [7, 8, 9] });
    const payload = encodeSafetensors(sent);
    const updateId = newUpdateId();
    const forged = Buffer.alloc(payload.length, 0xff);
    for (let i = 0; i < Math.ceil(payload.length / 64); i++) {
      const h = headers();
      h.set(CHUNK_INDEX_HEADER, String(i));
      // Same update id and the message id the victim will use: on its own subject it still cannot displace the victim's chunks.
      await js.publish(subjects.sitePayload(FED, 'beta', updateId), forged.subarray(i * 64, (i + 1) * 64), { msgID: `beta.${updateId}.${i}`, headers: h });
    }
    await submit({ key: alpha, site: 'alpha', runId, tensors: sent, manifest: { updateId } });
    const v = await verdictFor(runId);
    expect(v).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED', updateId, site: 'alpha' });
    expect(admission.accepted[0]!.payload.equals(payload)).toBe(true);
  });

  it('purges the chunks and leaves nothing in staging once an update is decided', async () => {
    const { updateId } = await submit({ key: alpha, site: 'alpha', runId });
    await verdictFor(runId);
    await expect.poll(() => chunksLeft(updateId)).toBe(0);
    expect(await readdir(join(dir, 'staging'))).toEqual([]);
    expect(await jsm.consumers.list(STREAM_PAYLOADS).next()).toEqual([]);
  });

  it('accepts an evaluation result with metrics and no payload when the engine expects one', async () => {
    admission.context = { ...admission.context, expectsPayload: false };
    await submit({
      key: alpha,
      site: 'alpha',
      runId,
      payload: Buffer.alloc(0),
      manifest: { taskKind: 'evaluate', payloadSize: 0, chunkCount: 0, tensors: [], metrics: { accuracy: 0.75 } },
    });
    expect(await verdictFor(runId)).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    expect(admission.accepted[0]?.tensors).toEqual({});
    expect(admission.accepted[0]?.manifest.metrics).toEqual({ accuracy: 0.75 });
  });

  it('refuses an evaluation result that carries a payload with MALFORMED_MANIFEST', async () => {
    admission.context = { ...admission.context, expectsPayload: false };
    await submit({ key: alpha, site: 'alpha', runId, manifest: { taskKind: 'evaluate' } });
    await expectRefused('MALFORMED_MANIFEST');
  });

  it('hands an opaque ensemble member over as one U8 tensor when the round is heterogeneous', async () => {
    admission.context = { ...admission.context, heterogeneous: true };
    const payload = Buffer.from('an onnx graph, opaque to the coordinator');
    await submit({ key: alpha, site: 'alpha', runId, payload, manifest: { flavor: 'onnx', tensors: [] } });
    expect(await verdictFor(runId)).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    const member = admission.accepted[0]?.tensors['__payload__'];
    expect(member?.dtype).toBe('U8');
    expect(Buffer.from(member?.data as Uint8Array).equals(payload)).toBe(true);
  });

  it('refuses an opaque flavor in a round that takes only the federation model, with SCHEMA_MISMATCH', async () => {
    await submit({ key: alpha, site: 'alpha', runId, payload: Buffer.from('opaque'), manifest: { flavor: 'custom:naive-bayes', tensors: [] } });
    await expectRefused('SCHEMA_MISMATCH');
  });

  it('accepts models of another shape when the round is heterogeneous, still refusing NaN', async () => {
    admission.context = { ...admission.context, heterogeneous: true };
    const other: TensorMap = { embedding: tensor('F32', [4], new Float32Array([1, 2, 3, 4])) };
    await submit({ key: alpha, site: 'alpha', runId, tensors: other });
    expect(await verdictFor(runId)).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    const poisoned: TensorMap = { embedding: tensor('F32', [4], new Float32Array([1, NaN, 3, 4])) };
    runId = `${runId}b`;
    admission.accepted.length = 0;
    await submit({ key: alpha, site: 'alpha', runId, tensors: poisoned });
    expect(await verdictFor(runId)).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason: 'NON_FINITE' });
  });

  it('accepts a payload of many full-size chunks', async () => {
    const n = 400_000;
    const big: TensorMap = { w: tensor('F32', [n], Float32Array.from({ length: n }, (_, i) => i / n)) };
    admission.context = { ...admission.context, modelSpec: tensorSpecsOf(big), globalModel: big, maxPayloadBytes: 0 };
    const { payload } = await submit({ key: alpha, site: 'alpha', runId, tensors: big, chunkSize: 983_040 });
    const v = await verdictFor(runId);
    expect(v.state).toBe('UPDATE_STATE_ACCEPTED');
    expect(admission.accepted[0]?.payload.equals(payload)).toBe(true);
  });

  it('counts a forged signature as SIGNATURE_INVALID and answers no verdict', async () => {
    const counted = await refusedCount('SIGNATURE_INVALID');
    const { updateId } = await submit({ key: alpha, site: 'alpha', runId, signWith: stranger });
    // The claimed update id is not recorded: a forger cannot burn a real site's id.
    await expectUnanswered('SIGNATURE_INVALID', counted, updateId);
  });

  it("records nothing in a site's last seen for a manifest naming it that another key signed", async () => {
    const counted = await refusedCount('SIGNATURE_INVALID');
    await submit({ key: delta, site: 'delta', runId, signWith: stranger });
    await eventually(async () => (await refusedCount('SIGNATURE_INVALID')) === counted + 1);
    expect((await presence.of('delta')).lastSeenAtMs).toBe(0);
  });

  it("records a manifest whose signature verified as its site's last seen", async () => {
    const before = Date.now();
    await submit({ key: delta, site: 'delta', runId });
    const seen = await eventually(async () => (await presence.of('delta')).lastSeenAtMs || undefined);
    expect(seen).toBeGreaterThanOrEqual(before - 1000);
    expect(seen).toBeLessThanOrEqual(Date.now());
  });

  it('counts a key it does not know as UNKNOWN_KEY and answers no verdict', async () => {
    const counted = await refusedCount('UNKNOWN_KEY');
    const { updateId } = await submit({ key: stranger, site: 'alpha', runId });
    await expectUnanswered('UNKNOWN_KEY', counted, updateId);
  });

  it('counts a revoked key as KEY_REVOKED and answers no verdict', async () => {
    const counted = await refusedCount('KEY_REVOKED');
    const { updateId } = await submit({ key: gone, site: 'gone', runId });
    await expectUnanswered('KEY_REVOKED', counted, updateId);
  });

  it('counts a replayed update id, answers it with its first verdict and hands nothing to the round', async () => {
    const first = await submit({ key: alpha, site: 'alpha', runId });
    expect((await verdictFor(runId)).state).toBe('UPDATE_STATE_ACCEPTED');
    verdicts.length = 0;
    admission.accepted.length = 0;
    await submit({ key: alpha, site: 'alpha', runId, manifest: { updateId: first.updateId }, msgId: `${first.updateId}.again` });
    expect(await verdictFor(runId)).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED', updateId: first.updateId });
    expect(admission.accepted).toHaveLength(0);
    expect(admission.refused).toHaveLength(0);
    expect(await metrics.registry.getSingleMetricAsString('tributary_updates_refused_total')).toContain('reason="REPLAYED_UPDATE"');
    expect((await state.getUpdate(first.updateId))?.state).toBe('ACCEPTED');
  });

  it('refuses a payload whose digest differs from the manifest with DIGEST_MISMATCH', async () => {
    const { updateId } = await submit({ key: alpha, site: 'alpha', runId, manifest: { payloadSha256: sha256Hex(randomBytes(16)) } });
    await expectRefused('DIGEST_MISMATCH');
    expect(admission.refused[0]?.updateId).toBe(updateId);
    await expect.poll(() => chunksLeft(updateId)).toBe(0);
    expect(await readdir(join(dir, 'staging'))).toEqual([]);
  });

  it('refuses a manifest declaring a wrong tensor shape with SCHEMA_MISMATCH before reading the payload', async () => {
    const wrong: TensorMap = { ...weights(), b: tensor('F32', [4], new Float32Array(4)) };
    await submit({ key: alpha, site: 'alpha', runId, tensors: wrong });
    const v = await expectRefused('SCHEMA_MISMATCH');
    expect(v.message).toContain('b');
  });

  it('refuses a payload with a wrong tensor name with SCHEMA_MISMATCH', async () => {
    const renamed = encodeSafetensors({ w: weights().w!, bias: weights().b! });
    await submit({ key: alpha, site: 'alpha', runId, payload: renamed, manifest: { tensors: modelSpec } });
    await expectRefused('SCHEMA_MISMATCH');
  });

  it('refuses a payload with a wrong dtype with SCHEMA_MISMATCH', async () => {
    const f64 = encodeSafetensors({ w: tensor('F64', [2, 3], new Float64Array(6)), b: weights().b! });
    await submit({ key: alpha, site: 'alpha', runId, payload: f64, manifest: { tensors: modelSpec } });
    await expectRefused('SCHEMA_MISMATCH');
  });

  it('refuses a NaN with NON_FINITE', async () => {
    await submit({ key: alpha, site: 'alpha', runId, tensors: weights({ b: [1, Number.NaN, 2] }) });
    await expectRefused('NON_FINITE');
  });

  it('refuses an update beyond the norm bound with NORM_EXCEEDED', async () => {
    admission.context = { ...admission.context, normBound: 1 };
    await submit({ key: alpha, site: 'alpha', runId });
    await expectRefused('NORM_EXCEEDED');
  });

  it('refuses a payload above the size limit with PAYLOAD_TOO_LARGE', async () => {
    admission.context = { ...admission.context, maxPayloadBytes: 10 };
    await submit({ key: alpha, site: 'alpha', runId });
    await expectRefused('PAYLOAD_TOO_LARGE');
  });

  it('counts garbage on the manifest subject as MALFORMED_ENVELOPE, answers no verdict and keeps working', async () => {
    const counted = await refusedCount('MALFORMED_ENVELOPE');
    await js.publish(subjects.update(FED, runId, 1, 'alpha'), randomBytes(200));
    await expectUnanswered('MALFORMED_ENVELOPE', counted);
    expect(admission.accepted).toHaveLength(1);
  });

  it('keeps a one-chunk payload in memory, leaves staging empty and commits it to the blob store', async () => {
    const sent = weights({ w: [6, 5, 4, 3, 2, 1] });
    const { payload } = await submit({ key: alpha, site: 'alpha', runId, tensors: sent, chunkSize: 983_040 });
    expect((await verdictFor(runId)).state).toBe('UPDATE_STATE_ACCEPTED');
    expect(admission.accepted[0]?.payload.equals(payload)).toBe(true);
    expect(await readdir(join(dir, 'staging'))).toEqual([]);
    expect(await blobs.has(sha256Hex(payload))).toBe(true);
  });

  it('waits for the chunks of a payload still being published when its manifest arrives', async () => {
    const { payload } = await submit({ key: alpha, site: 'alpha', runId, chunkSize: 983_040, lateChunks: [0] });
    expect((await verdictFor(runId)).state).toBe('UPDATE_STATE_ACCEPTED');
    expect(admission.accepted[0]?.payload.equals(payload)).toBe(true);
  });

  it('reads the stored chunks first and waits only for the ones still to come', async () => {
    const payload = encodeSafetensors(weights());
    const chunkSize = Math.ceil(payload.length / 2);
    await submit({ key: alpha, site: 'alpha', runId, chunkSize, lateChunks: [1] });
    expect((await verdictFor(runId)).state).toBe('UPDATE_STATE_ACCEPTED');
    expect(admission.accepted[0]?.payload.equals(payload)).toBe(true);
  });

  it('turns direct access back on for a payload stream that lost it, on start', async () => {
    const { config } = await jsm.streams.info(STREAM_PAYLOADS);
    await jsm.streams.update(STREAM_PAYLOADS, { ...config, allow_direct: false });
    await ensureStreams(jsm);
    expect((await jsm.streams.info(STREAM_PAYLOADS)).config.allow_direct).toBe(true);
  });

  it('refuses an update with a chunk missing in the middle with PAYLOAD_MISSING', async () => {
    await submit({ key: alpha, site: 'alpha', runId, chunkSize: 32, skipChunks: [1] });
    await expectRefused('PAYLOAD_MISSING');
  });

  it('reassembles chunks stored out of order within the chunk window, as a retried chunk lands after a NATS failure', async () => {
    const count = Math.ceil(encodeSafetensors(weights()).length / 8);
    const late = [...Array.from({ length: 7 }, (_, i) => i), ...Array.from({ length: 7 }, (_, i) => i + 8), 7, ...Array.from({ length: count - 15 }, (_, i) => i + 15)];
    await submit({ key: alpha, site: 'alpha', runId, chunkSize: 8, chunkOrder: late });
    expect((await verdictFor(runId)).state).toBe('UPDATE_STATE_ACCEPTED');
  });

  it('refuses a chunk stored further out of order than the chunk window with PAYLOAD_MISSING', async () => {
    const count = Math.ceil(encodeSafetensors(weights()).length / 4);
    expect(count).toBeGreaterThan(CHUNK_WINDOW + 1);
    const last = [0, ...Array.from({ length: count - 2 }, (_, i) => i + 2), 1];
    await submit({ key: alpha, site: 'alpha', runId, chunkSize: 4, chunkOrder: last });
    const v = await expectRefused('PAYLOAD_MISSING');
    expect(v.message).toContain(`chunk 1 of ${count} is missing`);
  });

  it('refuses an update whose last chunk never arrives with PAYLOAD_MISSING after the timeout', async () => {
    const payload = encodeSafetensors(weights());
    const last = Math.ceil(payload.length / 32) - 1;
    const started = Date.now();
    await submit({ key: alpha, site: 'alpha', runId, chunkSize: 32, skipChunks: [last] });
    const v = await expectRefused('PAYLOAD_MISSING');
    expect(Date.now() - started).toBeGreaterThanOrEqual(PAYLOAD_TIMEOUT_MS);
    expect(v.message).toContain(`${last} of ${last + 1}`);
  });

  it('counts a manifest published on another run\'s subject as SUBJECT_MISMATCH and answers no verdict', async () => {
    const counted = await refusedCount('SUBJECT_MISMATCH');
    const { updateId } = await submit({ key: alpha, site: 'alpha', runId, manifest: { runId: `${runId}x` } });
    // Nothing is recorded or answered under an update id whose subject and signer disagree.
    await expectUnanswered('SUBJECT_MISMATCH', counted, updateId);
  });

  it('counts a manifest naming another site than its key as SITE_MISMATCH and answers no verdict', async () => {
    const counted = await refusedCount('SITE_MISMATCH');
    const { updateId } = await submit({ key: alpha, site: 'beta', runId });
    await expectUnanswered('SITE_MISMATCH', counted, updateId);
  });

  it('signs every verdict with the coordinator key, over the UpdateStatus as published', async () => {
    await submit({ key: alpha, site: 'alpha', runId });
    expect(await verdictFor(runId)).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED', federation: FED, site: 'alpha' });
    expect(unverified).toEqual([]);
  });

  it('refuses zero examples with ZERO_EXAMPLES', async () => {
    await submit({ key: alpha, site: 'alpha', runId, manifest: { numExamples: 0 } });
    await expectRefused('ZERO_EXAMPLES');
  });

  it('passes a refusal of the round engine through to the site', async () => {
    admission.admitRefusal = { reason: 'SITE_NOT_SELECTED', message: 'site "alpha" is not selected for round 1' };
    const { updateId } = await submit({ key: alpha, site: 'alpha', runId });
    const v = await expectRefused('SITE_NOT_SELECTED');
    expect(v.message).toBe('site "alpha" is not selected for round 1');
    expect(v.updateId).toBe(updateId);
    expect(admission.refused[0]).toMatchObject({ site: 'alpha', updateId, reason: 'SITE_NOT_SELECTED' });
    expect(await state.getUpdate(updateId)).toMatchObject({ state: 'REFUSED', reason: 'SITE_NOT_SELECTED' });
  });

  it('retries an update when the round engine fails unexpectedly', async () => {
    admission.failNext = 'before-record';
    const { updateId } = await submit({ key: alpha, site: 'alpha', runId });
    const v = await verdictFor(runId);
    expect(v).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED', updateId });
    expect(admission.accepted).toHaveLength(1);
    expect(admission.refused).toHaveLength(0);
  });

  it('answers a redelivered manifest whose verdict was already recorded without refusing it as a replay', async () => {
    admission.failNext = 'after-record';
    const { updateId } = await submit({ key: alpha, site: 'alpha', runId });
    const v = await verdictFor(runId);
    expect(v).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED', updateId });
    expect(admission.accepted).toHaveLength(1);
    expect(admission.refused).toHaveLength(0);
    await expect.poll(() => chunksLeft(updateId)).toBe(0);
  });

  it('keeps a manifest unacked until its verdict is recorded', async () => {
    let release!: () => void;
    admission.gate = new Promise<void>((resolve) => (release = resolve));
    try {
      await submit({ key: alpha, site: 'alpha', runId });
      await expect.poll(() => jsm.consumers.info(STREAM_UPDATES, 'tributary-ingest').then((c) => c.num_ack_pending)).toBe(1);
      expect(admission.accepted).toHaveLength(0);
      release();
      expect((await verdictFor(runId)).state).toBe('UPDATE_STATE_ACCEPTED');
      await expect.poll(() => jsm.consumers.info(STREAM_UPDATES, 'tributary-ingest').then((c) => c.num_ack_pending)).toBe(0);
    } finally {
      release();
      admission.gate = undefined;
    }
  });
});
