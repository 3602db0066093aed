import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  STREAM_PAYLOADS,
  STREAM_UPDATES,
  TributaryError,
  UPDATE_ID_PATTERN,
  allFinite,
  checkSpec,
  decodeEnvelope,
  decodeManifest,
  decodeSafetensors,
  encodeUpdateStatus,
  isValidName,
  subjects,
  tensor,
  tensorSpecsOf,
  verifyEnvelope,
  type TensorMap,
  type UpdateManifest__Output,
  type UpdateState__Output,
  type UpdateSubject,
} from '@tributary/proto';
import { nanos, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { AdmissionContext, UpdateAdmission } from '../rounds/admission.js';
import type { SiteRecord, StateStore, UpdateRecord } from '../state/index.js';
import { readPayload } from './payload-reader.js';
import { ensureDurableConsumer, stopConsuming, type Consuming } from './streams.js';
import { OPAQUE_PAYLOAD_TENSOR } from '../strategies/strategy.js';
import { isTensorFlavor, manifestProblem, refusal, subjectMismatch, unsupportedFlavor, updateNorm, type Refusal } from './verification.js';

export interface UpdateIngestOptions {
  nc: NatsConnection;
  state: StateStore;
  admission: UpdateAdmission;
  /** Directory for payloads being verified; created if missing. */
  stagingDir: string;
  logger: Logger;
  /** Longest wait for the next payload chunk before refusing with PAYLOAD_MISSING. @default 30000 */
  payloadTimeoutMs?: number;
  /** Durable consumer on TRIB_UPDATES; one coordinator (one state store) per set of streams. @default "tributary-ingest" */
  consumerName?: string;
  /**
   * Updates verified at the same time. Memory grows with it (each holds one decoded update);
   * reading one update's chunks waits on the network, so a few in parallel keep a round busy.
   * @default 4
   */
  concurrency?: number;
}

/** A manifest not acked within this time is redelivered; progress on a long payload read extends it. */
const ACK_WAIT_MS = 120_000;
const PROGRESS_EVERY_MS = ACK_WAIT_MS / 4;
/** Deliveries an unexpected failure (state store, NATS) gets before the update is refused as INTERNAL. */
const MAX_DELIVERIES = 5;
const RETRY_DELAY_MS = 2_000;

/** What is known about the manifest being processed, growing as checks pass. */
interface Delivery {
  readonly subject: string;
  /** Subject tokens; unauthenticated. */
  readonly parsed: UpdateSubject | undefined;
  /** Update id read from an unverified body, only to address the verdict. */
  claimedUpdateId?: string;
  /** The signing key's site, once the key is known. */
  site?: SiteRecord;
  /** Set once the signature verified and the body decoded. */
  manifest?: UpdateManifest__Output;
  stagingPath?: string;
}

type Outcome = 'ack' | 'term';

/**
 * Verifies signed update manifests from TRIB_UPDATES and their chunked payloads from
 * TRIB_PAYLOADS, one update at a time, and hands fully verified updates to the round engine.
 * Every refusal is recorded through `admission.refuse` and answered on the site's verdict
 * subject; a manifest is acked only once its verdict is recorded, so a crash means redelivery.
 */
export class UpdateIngest {
  private readonly payloadTimeoutMs: number;
  private readonly consumerName: string;
  private readonly log: Logger;
  private js?: JetStreamClient;
  private jsm?: JetStreamManager;
  private consuming?: Consuming;
  private readonly concurrency: number;
  /** Update ids being verified now: a copy arriving meanwhile is a replay. */
  private readonly inFlight = new Set<string>();
  /** Chunk purges running after their verdicts; awaited on stop. */
  private readonly cleanups = new Set<Promise<unknown>>();

  constructor(private readonly opts: UpdateIngestOptions) {
    this.payloadTimeoutMs = opts.payloadTimeoutMs ?? 30_000;
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));
    this.consumerName = opts.consumerName ?? 'tributary-ingest';
    this.log = opts.logger.child({ component: 'ingest' });
  }

  /** Binds the durable consumer (the streams must exist: ensureStreams) and starts processing. */
  async start(): Promise<void> {
    if (this.consuming) return;
    await mkdir(this.opts.stagingDir, { recursive: true });
    this.jsm = await this.opts.nc.jetstreamManager();
    this.js = this.opts.nc.jetstream();
    await ensureDurableConsumer(this.jsm, STREAM_UPDATES, this.consumerName, {
      ack_wait: nanos(ACK_WAIT_MS),
      max_ack_pending: this.concurrency,
      max_deliver: -1,
    });
    const consumer = await this.js.consumers.get(STREAM_UPDATES, this.consumerName);
    // max_ack_pending = concurrency keeps further manifests on the server, not ageing here.
    const messages = await consumer.consume({ max_messages: this.concurrency });
    this.consuming = { messages, loop: this.run(messages) };
    this.log.debug({ consumer: this.consumerName }, 'update ingest started');
  }

  /** Finishes the update in progress, then stops pulling. */
  async stop(): Promise<void> {
    const consuming = this.consuming;
    this.consuming = undefined;
    if (!consuming) return;
    await stopConsuming(consuming);
    await Promise.allSettled([...this.cleanups]);
    this.log.debug('update ingest stopped');
  }

  private async run(messages: ConsumerMessages): Promise<void> {
    const running = new Set<Promise<void>>();
    try {
      for await (const m of messages) {
        const handled = this.handle(m).finally(() => running.delete(handled));
        running.add(handled);
        if (running.size >= this.concurrency) await Promise.race(running);
      }
    } catch (err) {
      this.log.error({ err }, 'update ingest stopped pulling manifests');
    } finally {
      await Promise.allSettled([...running]);
    }
  }

  /** Processes one manifest; never throws. */
  private async handle(m: JsMsg): Promise<void> {
    const delivery: Delivery = { subject: m.subject, parsed: subjects.parseUpdate(m.subject) };
    const progress = setInterval(() => this.settle(() => m.working()), PROGRESS_EVERY_MS);
    try {
      const outcome = await this.process(m, delivery);
      this.settle(() => (outcome === 'term' ? m.term() : m.ack()));
    } catch (err) {
      const e = TributaryError.from(err);
      if (m.info.deliveryCount < MAX_DELIVERIES) {
        this.log.error({ err: e, subject: m.subject, delivery: m.info.deliveryCount }, 'update processing failed; will retry');
        this.settle(() => m.nak(RETRY_DELAY_MS));
      } else {
        await this.refuse(delivery, refusal('INTERNAL', `update could not be processed: ${e.message}`)).catch((fail: unknown) =>
          this.log.error({ err: fail }, 'could not record a refusal'),
        );
        this.settle(() => m.term());
      }
    } finally {
      clearInterval(progress);
      if (delivery.stagingPath !== undefined) await rm(delivery.stagingPath, { force: true }).catch(() => undefined);
    }
  }

  /** Acks, naks, terminates or extends; a closed connection only means the manifest comes back later. */
  private settle(reply: () => void): void {
    try {
      reply();
    } catch (err) {
      this.log.warn({ err }, 'could not settle a manifest; it will be redelivered');
    }
  }

  /** Runs every check in order; returns once the verdict is recorded and published. */
  private async process(m: JsMsg, d: Delivery): Promise<Outcome> {
    const { state } = this.opts;
    let envelope;
    try {
      envelope = decodeEnvelope(m.data);
    } catch (err) {
      await this.refuse(d, refusal('MALFORMED_ENVELOPE', `update envelope cannot be decoded: ${TributaryError.from(err).message}`));
      return 'term';
    }
    if (envelope.kind !== 'update') {
      await this.refuse(d, refusal('MALFORMED_ENVELOPE', `envelope kind "${envelope.kind}" is not "update"`));
      return 'term';
    }
    d.claimedUpdateId = claimedUpdateId(envelope.body);

    const site = await state.getSiteByKeyId(envelope.keyId);
    if (site === undefined) return this.refuse(d, refusal('UNKNOWN_KEY', `key ${JSON.stringify(envelope.keyId)} is not known`));
    d.site = site;
    if (site.status === 'REVOKED') return this.refuse(d, refusal('KEY_REVOKED', `the key of site "${site.name}" is revoked`));
    if (!verifyEnvelope(envelope, Buffer.from(site.publicKey, 'base64'))) {
      return this.refuse(d, refusal('SIGNATURE_INVALID', `signature does not verify with the key of site "${site.name}"`));
    }

    let manifest: UpdateManifest__Output;
    try {
      manifest = decodeManifest(envelope.body);
    } catch (err) {
      return this.refuse(d, refusal('MALFORMED_MANIFEST', `update manifest cannot be decoded: ${TributaryError.from(err).message}`));
    }
    d.manifest = manifest;
    if (manifest.site !== site.name) {
      return this.refuse(d, refusal('SITE_MISMATCH', `manifest names site "${manifest.site}" but is signed by site "${site.name}"`));
    }
    const mismatch = subjectMismatch(d.parsed, d.subject, manifest);
    if (mismatch !== undefined) return this.refuse(d, refusal('SUBJECT_MISMATCH', mismatch));
    if (!site.federations.includes(manifest.federation)) {
      return this.refuse(d, refusal('NOT_A_MEMBER', `site "${site.name}" is not a member of federation "${manifest.federation}"`));
    }
    const problem = manifestProblem(manifest);
    if (problem !== undefined) return this.refuse(d, refusal('MALFORMED_MANIFEST', problem));

    if (this.inFlight.has(manifest.updateId)) {
      return this.refuse(d, refusal('REPLAYED_UPDATE', `update id ${manifest.updateId} is already being verified`));
    }
    this.inFlight.add(manifest.updateId);
    try {
      return await this.processClaimed(m, d, manifest);
    } finally {
      this.inFlight.delete(manifest.updateId);
    }
  }

  /** The checks after the manifest is authenticated, with its update id claimed. */
  private async processClaimed(m: JsMsg, d: Delivery, manifest: UpdateManifest__Output): Promise<Outcome> {
    const { state } = this.opts;
    const started = performance.now();
    const prior = await state.getUpdate(manifest.updateId);
    if (prior !== undefined) {
      if (m.redelivered && sameUpdate(prior, manifest)) return this.republish(d, prior);
      return this.refuse(d, refusal('REPLAYED_UPDATE', `update id ${manifest.updateId} was already used`));
    }
    if (manifest.numExamples <= 0) return this.refuse(d, refusal('ZERO_EXAMPLES', 'num_examples must be greater than 0'));

    const admitted = await this.opts.admission.admit(manifest);
    if (!admitted.ok) return this.refuse(d, refusal(admitted.reason, admitted.message));
    const checked = await this.verifyPayload(d, manifest, admitted);
    if (!checked.ok) return this.refuse(d, checked);

    const stagedPath = d.stagingPath ?? '';
    if (admitted.expectsPayload && stagedPath === '') throw new TributaryError({ code: 'INTERNAL', reason: 'INTERNAL', message: 'verified payload has no staging file' });
    const verdict = await this.opts.admission.accept(manifest, checked.tensors, { bytes: checked.bytes, stagedPath });
    // From here the engine owns the staged file.
    d.stagingPath = undefined;
    if (!verdict.ok) return this.refuse(d, refusal(verdict.reason, verdict.message));
    this.log.debug(
      {
        federation: manifest.federation,
        runId: manifest.runId,
        round: manifest.round,
        site: manifest.site,
        updateId: manifest.updateId,
        bytes: checked.bytes,
        ms: Math.round(performance.now() - started),
      },
      'update accepted',
    );
    await this.conclude(d, 'UPDATE_STATE_ACCEPTED', '', '');
    return 'ack';
  }

  /** Payload checks: size bound, schema, chunks (digest, size), decoding, finiteness, norm. */
  private async verifyPayload(
    d: Delivery,
    manifest: UpdateManifest__Output,
    ctx: AdmissionContext,
  ): Promise<{ ok: true; tensors: TensorMap; bytes: number } | Refusal> {
    for (const [key, value] of Object.entries(manifest.metrics)) {
      if (!Number.isFinite(value)) return refusal('NON_FINITE', `metric "${key}" is not a finite number`);
    }
    if (!ctx.expectsPayload) {
      if (manifest.payloadSize !== 0) return refusal('MALFORMED_MANIFEST', 'this result carries no payload');
      return { ok: true, tensors: {}, bytes: 0 };
    }
    if (manifest.taskKind === 'evaluate') return refusal('MALFORMED_MANIFEST', 'an evaluation result was sent where an update is expected');
    if (ctx.maxPayloadBytes > 0 && manifest.payloadSize > ctx.maxPayloadBytes) {
      return refusal('PAYLOAD_TOO_LARGE', `payload of ${manifest.payloadSize} bytes exceeds the limit of ${ctx.maxPayloadBytes}`);
    }
    const flavor = unsupportedFlavor(manifest.flavor, ctx.heterogeneous);
    if (flavor !== undefined) return refusal('SCHEMA_MISMATCH', flavor);
    if (!ctx.heterogeneous) {
      const declared = checkSpec(ctx.modelSpec, manifest.tensors);
      if (declared !== undefined) return refusal('SCHEMA_MISMATCH', `manifest tensors do not match the model: ${declared}`);
    }

    d.stagingPath = join(this.opts.stagingDir, manifest.updateId);
    const read = await readPayload({
      js: this.jetstream(),
      subject: subjects.payload(manifest.federation, manifest.updateId),
      path: d.stagingPath,
      chunkCount: manifest.chunkCount,
      chunkSize: manifest.chunkSize,
      payloadSize: manifest.payloadSize,
      idleTimeoutMs: this.payloadTimeoutMs,
    });
    if (!read.ok) return read;
    if (read.bytes !== manifest.payloadSize) {
      return refusal('SIZE_MISMATCH', `payload has ${read.bytes} bytes, the manifest says ${manifest.payloadSize}`);
    }
    if (read.sha256 !== manifest.payloadSha256) {
      return refusal('DIGEST_MISMATCH', `payload SHA-256 is ${read.sha256}, the manifest says ${manifest.payloadSha256}`);
    }
    this.log.debug({ updateId: manifest.updateId, bytes: read.bytes }, 'payload digest verified');

    if (!isTensorFlavor(manifest.flavor)) {
      // An opaque member of a heterogeneous round: verified by digest and size only.
      const bytes = await readFile(d.stagingPath);
      return { ok: true, tensors: { [OPAQUE_PAYLOAD_TENSOR]: tensor('U8', [bytes.byteLength], new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)) }, bytes: read.bytes };
    }
    let tensors: TensorMap;
    try {
      tensors = decodeSafetensors(await readFile(d.stagingPath)).tensors;
    } catch (err) {
      return refusal('MALFORMED_PAYLOAD', `payload is not a valid safetensors file: ${TributaryError.from(err).message}`);
    }
    if (!ctx.heterogeneous) {
      const actual = checkSpec(ctx.modelSpec, tensorSpecsOf(tensors));
      if (actual !== undefined) return refusal('SCHEMA_MISMATCH', `payload tensors do not match the model: ${actual}`);
    }
    for (const [name, t] of Object.entries(tensors)) {
      if (!allFinite(t)) return refusal('NON_FINITE', `tensor "${name}" has a NaN or infinite value`);
    }
    if (ctx.normBound > 0 && !ctx.heterogeneous && !ctx.clipToNormBound) {
      const norm = updateNorm(tensors, ctx.globalModel);
      if (norm > ctx.normBound) {
        return refusal('NORM_EXCEEDED', `update norm ${norm.toPrecision(6)} exceeds the bound ${ctx.normBound}`);
      }
    }
    return { ok: true, tensors, bytes: read.bytes };
  }

  /** Records a refusal, answers the site and cleans up; the manifest is then acked. */
  private async refuse(d: Delivery, r: Refusal): Promise<Outcome> {
    const site = d.site?.name ?? d.parsed?.site;
    // Before the signature verified, the body's update id is only a claim: it addresses the
    // verdict but is never recorded, so a forged manifest cannot burn someone else's id.
    const updateId = d.manifest && UPDATE_ID_PATTERN.test(d.manifest.updateId) ? d.manifest.updateId : undefined;
    this.log.warn({ subject: d.subject, site, updateId: updateId ?? d.claimedUpdateId, reason: r.reason }, `update refused: ${r.message}`);
    await this.opts.admission.refuse({
      subject: d.subject,
      reason: r.reason,
      message: r.message,
      ...(d.manifest ? { manifest: d.manifest } : {}),
      ...(site !== undefined ? { site } : {}),
      ...(updateId !== undefined ? { updateId } : {}),
    });
    await this.conclude(d, 'UPDATE_STATE_REFUSED', r.reason, r.message);
    return 'ack';
  }

  /** A redelivered manifest whose verdict was already recorded: answer it again, change nothing. */
  private async republish(d: Delivery, prior: UpdateRecord): Promise<Outcome> {
    this.log.debug({ updateId: prior.updateId, state: prior.state }, 'redelivered manifest already decided');
    const state = prior.state === 'ACCEPTED' ? 'UPDATE_STATE_ACCEPTED' : 'UPDATE_STATE_REFUSED';
    await this.conclude(d, state, prior.reason, prior.message);
    return 'ack';
  }

  /** Publishes the verdict on the site's verdict subject and purges the update's chunks. */
  private async conclude(d: Delivery, state: UpdateState__Output, reason: string, message: string): Promise<void> {
    const manifest = d.manifest;
    const federation = manifest?.federation ?? d.parsed?.federation ?? '';
    const site = d.site?.name ?? d.parsed?.site ?? '';
    if (isValidName(federation) && isValidName(site)) {
      const status = encodeUpdateStatus({
        updateId: manifest?.updateId ?? d.claimedUpdateId ?? '',
        state,
        reason,
        message,
        federation,
        runId: manifest?.runId ?? d.parsed?.runId ?? '',
        round: manifest?.round ?? d.parsed?.round ?? 0,
        site,
      });
      this.opts.nc.publish(subjects.verdict(federation, site), status);
    }
    // Only an authenticated manifest may clear chunks: a forged one could otherwise delete a
    // pending update's payload.
    if (manifest !== undefined && isValidName(manifest.federation) && UPDATE_ID_PATTERN.test(manifest.updateId)) {
      const subject = subjects.payload(manifest.federation, manifest.updateId);
      // Off the critical path: the verdict does not wait for the purge (30-80 ms).
      const purge = this.jetstreamManager()
        .streams.purge(STREAM_PAYLOADS, { filter: subject })
        .catch((err: unknown) => this.log.warn({ err, subject }, 'could not purge payload chunks'))
        .finally(() => this.cleanups.delete(purge));
      this.cleanups.add(purge);
    }
  }

  private jetstream(): JetStreamClient {
    if (!this.js) throw new TributaryError({ code: 'FAILED_PRECONDITION', reason: 'INTERNAL', message: 'update ingest is not started' });
    return this.js;
  }

  private jetstreamManager(): JetStreamManager {
    if (!this.jsm) throw new TributaryError({ code: 'FAILED_PRECONDITION', reason: 'INTERNAL', message: 'update ingest is not started' });
    return this.jsm;
  }
}

function sameUpdate(prior: UpdateRecord, m: UpdateManifest__Output): boolean {
  return prior.federation === m.federation && prior.runId === m.runId && prior.round === m.round && prior.site === m.site;
}

/** The update id an unverified body claims, if it decodes and is well-formed. */
function claimedUpdateId(body: Uint8Array): string | undefined {
  try {
    const id = decodeManifest(body).updateId;
    return UPDATE_ID_PATTERN.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}
