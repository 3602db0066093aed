import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Reason,
  STREAM_UPDATES,
  TributaryError,
  UPDATE_ID_PATTERN,
  checkSpec,
  decodeEnvelope,
  decodeManifest,
  subjects,
  refusalOf,
  verifyEnvelope,
  type Refusal,
  type SigningKey,
  type UpdateManifest__Output,
} from '@tributary/proto';
import { nanos, type ConsumerMessages, type JetStreamClient, type JsMsg, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { CoordinatorMetrics } from '../observability/metrics.js';
import type { AdmissionContext, UpdateAdmission } from '../rounds/admission.js';
import { isMember } from '../sites/membership.js';
import type { SitePresence } from '../sites/presence.js';
import type { BlobStore, StateStore, UpdateRecord } from '../state/index.js';
import { inspectStagedPayload, isTensorFlavor } from '../updates/foldable-update.js';
import { VerifiedUpdate } from '../updates/verified-update.js';
import { HeldDeliveries } from './held-deliveries.js';
import { payloadMismatch, payloadReadDeadlineMs, readPayload } from './payload-reader.js';
import { SupervisedConsumer, storedAtMs } from './streams.js';
import { UpdateOutcomes, type Delivery, type UpdateOutcomesOptions } from './update-outcomes.js';
import { VerificationSlots, type ReleaseSlot } from './verification-slots.js';
import { manifestProblem, metricKeyProblem, subjectMismatch, unsupportedFlavor } from './verification.js';

export interface UpdateIngestOptions {
  nc: NatsConnection;
  state: StateStore;
  /** Where accepted payloads are kept; verified updates commit into it. */
  blobs: BlobStore;
  admission: UpdateAdmission;
  metrics: CoordinatorMetrics;
  /** Signs the verdicts (the coordinator's key). */
  verdictKey: SigningKey;
  /** Directory for payloads being verified; created if missing. */
  stagingDir: string;
  logger: Logger;
  /** Longest wait for the next payload chunk before refusing with PAYLOAD_MISSING. */
  payloadTimeoutMs: number;
  /** Durable consumer on TRIB_UPDATES; one coordinator (one state store) per set of streams. */
  consumerName: string;
  /** Updates verified at the same time; each holds at most a bounded read window in memory. */
  concurrency: number;
  /**
   * Small updates verified at the same time besides `concurrency` (0: none); a payload is small
   * when its manifest claims at most `smallPayloadBytes`. Small updates in flight together hold at
   * most `smallInFlightBytes` of claimed payload.
   */
  smallConcurrency?: number;
  smallPayloadBytes?: number;
  smallInFlightBytes?: number;
  /** Slowest accepted upload, bytes per second: with `minUploadMs`, it sets each payload's read deadline. */
  minUploadBytesPerSecond: number;
  /** Shortest read deadline of a payload. */
  minUploadMs: number;
  /** A manifest not acked within this time is redelivered; progress on a long payload read extends it. */
  ackWaitMs: number;
  /** Deliveries an unexpected failure (state store, NATS) gets before the update is refused as INTERNAL. */
  maxDeliveries: number;
  /** Pause before such a redelivery. */
  retryDelayMs: number;
  /** Payload bytes pulled ahead over all readers together: each of the `concurrency` readers gets its share. */
  pullAheadBytes: number;
  /** Longest wait on stop for the updates being verified; the rest are handed back unjudged. */
  stopTimeoutMs: number;
  /** Creates the data plane's streams (again, after a NATS server lost its storage). */
  ensureStreams: () => Promise<void>;
  /** File listing the manifests being processed, so the next coordinator on this data directory can hand them back after a crash. */
  heldDeliveriesPath: string;
  /** Records refusals of updates whose key is known. */
  audit?: UpdateOutcomesOptions['audit'];
  /** Told when a site's manifest is attributable to it (signature verified): its last seen. */
  presence?: Pick<SitePresence, 'seen'>;
  /** Aggregation workers, when configured: offered each admitted update before it is read here. */
  delegation?: FoldDelegation;
}

/** Hands an admitted update to an aggregation worker (see `aggregation/dispatcher.ts`). */
export interface FoldDelegation {
  /**
   * The update as a worker verified and folded it, the refusal it found in the payload, or
   * undefined: read and fold it here.
   */
  delegate(manifest: UpdateManifest__Output, ctx: AdmissionContext, manifestSeq: number): Promise<VerifiedUpdate | Refusal | undefined>;
}

/** Defaults of the small updates' budget: a 256 KiB payload is small; 64 of them or 16 MiB in flight. */
export const SMALL_UPDATE_DEFAULTS = Object.freeze({ concurrency: 64, payloadBytes: 256 * 1024, inFlightBytes: 16 * 2 ** 20 });

type Outcome = 'ack' | 'term';

/** What a manifest's processing holds until its verdict: a staging file, a verification slot. */
interface Holdings {
  path: string | undefined;
  release: ReleaseSlot | undefined;
}

/**
 * The first step of an update's path: pulls signed manifests from TRIB_UPDATES, authenticates
 * them (envelope, key, signature, site, subject, membership), asks the round to admit them,
 * reads and verifies their chunked payloads from TRIB_PAYLOADS (digest, size, schema, values,
 * norm) into memory or a staging file, and hands the round a `VerifiedUpdate` that owns it.
 * Refusals are recorded and answered by `UpdateOutcomes`; a manifest is acked only once its
 * verdict is recorded, so a crash means redelivery.
 */
export class UpdateIngest {
  private readonly log: Logger;
  private js?: JetStreamClient;
  private outcomes?: UpdateOutcomes;
  private consuming?: SupervisedConsumer;
  /** Update ids being verified now: a copy arriving meanwhile is a replay. */
  private readonly inFlight = new Set<string>();
  /** Sites whose payload is being read now: one upload at a time per site, so no site holds every slot. */
  private readonly uploading = new Set<string>();
  private readonly held: HeldDeliveries;
  /** Set when a stop stopped waiting: what is still being verified is left unjudged. */
  private abandoned = false;
  private readonly slots: VerificationSlots;

  constructor(private readonly opts: UpdateIngestOptions) {
    this.log = opts.logger.child({ component: 'ingest' });
    this.held = new HeldDeliveries(opts.heldDeliveriesPath, this.log);
    this.slots = new VerificationSlots({
      large: Math.max(1, Math.floor(opts.concurrency)),
      small: opts.smallConcurrency ?? SMALL_UPDATE_DEFAULTS.concurrency,
      smallPayloadBytes: opts.smallPayloadBytes ?? SMALL_UPDATE_DEFAULTS.payloadBytes,
      smallBytes: opts.smallInFlightBytes ?? SMALL_UPDATE_DEFAULTS.inFlightBytes,
    });
  }

  /** Binds the durable consumer (the streams must exist: ensureStreams) and starts processing. */
  async start(): Promise<void> {
    if (this.consuming) return;
    await mkdir(this.opts.stagingDir, { recursive: true });
    const jsm = await this.opts.nc.jetstreamManager();
    this.js = this.opts.nc.jetstream();
    this.outcomes = new UpdateOutcomes({ nc: this.opts.nc, jsm, state: this.opts.state, admission: this.opts.admission, metrics: this.opts.metrics, logger: this.log, verdictKey: this.opts.verdictKey, ...(this.opts.audit === undefined ? {} : { audit: this.opts.audit }) });
    // Manifests held at once: one per slot of either budget. A manifest waiting for a slot has
    // been authenticated and checked, and holds nothing but its own message.
    const concurrency = this.slots.capacity;
    // A crashed predecessor's deliveries would hold every slot until their ack wait ends.
    const released = await this.held.releasePrevious(this.opts.nc);
    if (released > 0) this.log.info({ released }, 'manifests held by the previous coordinator handed back for redelivery');
    const consuming = new SupervisedConsumer({
      nc: this.opts.nc,
      stream: STREAM_UPDATES,
      name: this.opts.consumerName,
      tuning: { ack_wait: nanos(this.opts.ackWaitMs), max_ack_pending: concurrency, max_deliver: -1 },
      // max_ack_pending = concurrency keeps further manifests on the server, not ageing here.
      pull: { max_messages: concurrency },
      setUp: this.opts.ensureStreams,
      drain: (messages) => this.run(messages, concurrency),
      logger: this.log,
    });
    await consuming.start();
    this.consuming = consuming;
    this.log.debug({ consumer: this.opts.consumerName }, 'update ingest started');
  }

  /**
   * Stops pulling and finishes the updates in progress, for `stopTimeoutMs` at most: those still
   * being verified then (a slow upload) are handed back to JetStream unjudged, so a stop never
   * waits on a site, nor refuses its update because the coordinator went away.
   */
  async stop(): Promise<void> {
    const consuming = this.consuming;
    this.consuming = undefined;
    if (!consuming) return;
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      consuming.stop().then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), this.opts.stopTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (!finished) {
      this.abandoned = true;
      const handedBack = await this.held.handBack(this.opts.nc).catch((err: unknown) => {
        this.log.warn({ err }, 'could not hand back the updates in progress; they return after the ack wait');
        return 0;
      });
      this.log.warn({ handedBack, waitedMs: this.opts.stopTimeoutMs }, 'updates still being verified are left for the next start');
    }
    await this.outcomes?.settled();
    await this.held.flushed();
    this.log.debug('update ingest stopped');
  }

  private async run(messages: ConsumerMessages, concurrency: number): Promise<void> {
    const running = new Set<Promise<void>>();
    try {
      for await (const m of messages) {
        const handled = this.handle(m).finally(() => running.delete(handled));
        running.add(handled);
        if (running.size >= concurrency) await Promise.race(running);
      }
    } finally {
      await Promise.allSettled([...running]);
    }
  }

  /** Processes one manifest; never throws. */
  private async handle(m: JsMsg): Promise<void> {
    const delivery: Delivery = { subject: m.subject, parsed: subjects.parseUpdate(m.subject), seq: m.seq };
    const staging: Holdings = { path: undefined, release: undefined };
    const progress = setInterval(() => this.settle(() => m.working()), this.opts.ackWaitMs / 4);
    // On disk before anything of the manifest is processed: a kill -9 from here on hands it back.
    await this.held.add(m);
    try {
      const outcome = await this.process(m, delivery, staging);
      this.settle(() => (outcome === 'term' ? m.term() : m.ack()));
    } catch (err) {
      const e = TributaryError.from(err);
      if (this.abandoned || e.reason === Reason.STATE_WRITE_FAILED || e.reason === Reason.STATE_STORE_UNAVAILABLE) {
        // Not the update's fault, and nothing can be recorded now (a failed disk, a stop): it
        // waits in the stream for a restarted coordinator, whatever its delivery count.
        this.log.warn({ subject: m.subject, reason: e.reason }, 'update left for redelivery: it cannot be judged now');
        this.settle(() => m.nak());
      } else if (m.info.deliveryCount < this.opts.maxDeliveries) {
        this.log.error({ err: e, subject: m.subject, delivery: m.info.deliveryCount }, 'update processing failed; will retry');
        this.settle(() => m.nak(this.opts.retryDelayMs));
      } else {
        await this.refuse(delivery, refusalOf(Reason.INTERNAL, `update could not be processed: ${e.message}`)).catch((fail: unknown) =>
          this.log.error({ err: fail }, 'could not record a refusal'),
        );
        this.settle(() => m.term());
      }
    } finally {
      clearInterval(progress);
      staging.release?.();
      this.held.remove(m);
      if (staging.path !== undefined) await rm(staging.path, { force: true }).catch(() => undefined);
    }
  }

  /** True while a decided update's payload chunks (`subject`) wait for their purge or are being purged. */
  purgePending(subject: string): boolean {
    return this.outcomes?.purgePending(subject) ?? false;
  }

  /** Acks, naks, terminates or extends; a closed connection only means the manifest comes back later. */
  private settle(reply: () => void): void {
    try {
      reply();
    } catch (err) {
      this.log.warn({ err }, 'could not settle a manifest; it will be redelivered');
    }
  }

  /** Authenticates the manifest; every check in order, returning once the verdict is recorded and answered. */
  private async process(m: JsMsg, d: Delivery, staging: Holdings): Promise<Outcome> {
    let envelope;
    try {
      envelope = decodeEnvelope(m.data);
    } catch (err) {
      await this.refuse(d, refusalOf(Reason.MALFORMED_ENVELOPE, `update envelope cannot be decoded: ${TributaryError.from(err).message}`));
      return 'term';
    }
    if (envelope.kind !== 'update') {
      await this.refuse(d, refusalOf(Reason.MALFORMED_ENVELOPE, `envelope kind "${envelope.kind}" is not "update"`));
      return 'term';
    }
    d.claimedUpdateId = claimedUpdateId(envelope.body);

    const site = await this.opts.state.getSiteByKeyId(envelope.keyId);
    if (site === undefined) return this.refuse(d, refusalOf(Reason.UNKNOWN_KEY, `key ${JSON.stringify(envelope.keyId)} is not known`));
    d.site = site;
    if (site.status === 'REVOKED') return this.refuse(d, refusalOf(Reason.KEY_REVOKED, `the key of site "${site.name}" is revoked`));
    if (!verifyEnvelope(envelope, Buffer.from(site.publicKey, 'base64'))) {
      return this.refuse(d, refusalOf(Reason.SIGNATURE_INVALID, `signature does not verify with the key of site "${site.name}"`));
    }

    let manifest: UpdateManifest__Output;
    try {
      manifest = decodeManifest(envelope.body);
    } catch (err) {
      return this.refuse(d, refusalOf(Reason.MALFORMED_MANIFEST, `update manifest cannot be decoded: ${TributaryError.from(err).message}`));
    }
    d.manifest = manifest;
    if (manifest.site !== site.name) {
      return this.refuse(d, refusalOf(Reason.SITE_MISMATCH, `manifest names site "${manifest.site}" but is signed by site "${site.name}"`));
    }
    const mismatch = subjectMismatch(d.parsed, d.subject, manifest);
    if (mismatch !== undefined) return this.refuse(d, refusalOf(Reason.SUBJECT_MISMATCH, mismatch));
    if (!isMember(site, manifest.federation)) {
      return this.refuse(d, refusalOf(Reason.NOT_A_MEMBER, `site "${site.name}" is not a member of federation "${manifest.federation}"`));
    }
    // Signed by the site its subject names, a member of the federation: from here its update
    // id may be recorded.
    d.attributable = true;
    this.opts.presence?.seen(site.name, storedAtMs(m));
    const problem = manifestProblem(manifest);
    if (problem !== undefined) return this.refuse(d, refusalOf(Reason.MALFORMED_MANIFEST, problem));
    const badKey = metricKeyProblem(manifest);
    if (badKey !== undefined) return this.refuse(d, refusalOf(Reason.INVALID_METRIC_KEY, badKey));

    if (this.inFlight.has(manifest.updateId)) {
      this.outcomes?.replayed(d, refusalOf(Reason.REPLAYED_UPDATE, `update id ${manifest.updateId} is already being verified`));
      return 'ack';
    }
    this.inFlight.add(manifest.updateId);
    try {
      return await this.processAuthenticated(m, d, manifest, staging);
    } finally {
      this.inFlight.delete(manifest.updateId);
    }
  }

  /** The checks after the manifest is authenticated, with its update id claimed. */
  private async processAuthenticated(m: JsMsg, d: Delivery, manifest: UpdateManifest__Output, staging: Holdings): Promise<Outcome> {
    const started = performance.now();
    const prior = await this.opts.state.getUpdate(manifest.updateId);
    if (prior !== undefined) {
      // The message that carried the decided manifest, delivered again (a crash before its ack):
      // answered with the recorded verdict, whatever its delivery count, which a restart or a
      // redelivery after a NAK does not always raise.
      const redelivery = prior.manifestSeq === undefined ? m.redelivered : prior.manifestSeq === m.seq;
      if (redelivery && sameUpdate(prior, manifest)) {
        this.outcomes?.repeat(d, prior);
        return 'ack';
      }
      this.outcomes?.replayed(d, refusalOf(Reason.REPLAYED_UPDATE, `update id ${manifest.updateId} was already used`), sameUpdate(prior, manifest) ? prior : undefined);
      return 'ack';
    }
    if (manifest.numExamples <= 0) return this.refuse(d, refusalOf(Reason.ZERO_EXAMPLES, 'num_examples must be greater than 0'));

    const admitted = await this.opts.admission.admit(manifest);
    if (!admitted.ok) return this.refuse(d, admitted.refusal);
    const verified = await this.verifyPayload(manifest, admitted.context, staging, d.seq);
    if (!(verified instanceof VerifiedUpdate)) return this.refuse(d, verified);
    // The round owns the staged payload from here.
    staging.path = undefined;
    const refusal = await this.opts.admission.deliver(verified);
    if (refusal !== undefined) return this.refuse(d, refusal);
    this.log.debug(
      { federation: manifest.federation, runId: manifest.runId, round: manifest.round, site: manifest.site, updateId: manifest.updateId, bytes: verified.bytes, ms: Math.round(performance.now() - started) },
      'update accepted',
    );
    // A worker's update keeps its chunks until the round ends: a re-fold may read them again.
    this.outcomes?.accepted(d, { keepPayload: verified.foldedBy !== undefined });
    return 'ack';
  }

  /** Payload checks: size bound, schema, chunks (digest, size), then the staged file's tensors. */
  private async verifyPayload(manifest: UpdateManifest__Output, ctx: AdmissionContext, staging: Holdings, manifestSeq: number): Promise<VerifiedUpdate | Refusal> {
    for (const [key, value] of Object.entries(manifest.metrics)) {
      if (!Number.isFinite(value)) return refusalOf(Reason.NON_FINITE, `metric "${key}" is not a finite number`);
    }
    if (!ctx.expectsPayload) {
      if (manifest.payloadSize !== 0) return refusalOf(Reason.MALFORMED_MANIFEST, 'this result carries no payload');
      return new VerifiedUpdate({ manifest, bytes: 0, blobs: this.opts.blobs, manifestSeq });
    }
    if (manifest.taskKind === 'evaluate') return refusalOf(Reason.MALFORMED_MANIFEST, 'an evaluation result was sent where an update is expected');
    if (ctx.maxPayloadBytes > 0 && manifest.payloadSize > ctx.maxPayloadBytes) {
      return refusalOf(Reason.PAYLOAD_TOO_LARGE, `payload of ${manifest.payloadSize} bytes exceeds the limit of ${ctx.maxPayloadBytes}`);
    }
    const flavor = unsupportedFlavor(manifest.flavor, ctx.heterogeneous);
    if (flavor !== undefined) return refusalOf(Reason.SCHEMA_MISMATCH, flavor);
    if (!ctx.heterogeneous) {
      const declared = checkSpec(ctx.modelSpec, manifest.tensors);
      if (declared !== undefined) return refusalOf(Reason.SCHEMA_MISMATCH, `manifest tensors do not match the model: ${declared}`);
    }

    if (this.uploading.has(manifest.site)) {
      return { reason: 'UPLOAD_IN_PROGRESS', message: `site "${manifest.site}" is already uploading another update; send the next one after its verdict` };
    }
    // Every check that costs nothing is passed: the update waits for a slot of its budget, held
    // (with the payload kept in memory, if small) until its verdict.
    const small = this.slots.isSmall(manifest.payloadSize);
    staging.release = await this.slots.acquire(manifest.payloadSize);
    if (this.uploading.has(manifest.site)) {
      return { reason: 'UPLOAD_IN_PROGRESS', message: `site "${manifest.site}" is already uploading another update; send the next one after its verdict` };
    }
    const path = join(this.opts.stagingDir, manifest.updateId);
    staging.path = path;
    this.uploading.add(manifest.site);
    let read;
    try {
      const delegated = await this.opts.delegation?.delegate(manifest, ctx, manifestSeq);
      if (delegated !== undefined) {
        staging.path = undefined;
        return delegated;
      }
      read = await readPayload({
        js: this.jetstream(),
        nc: this.opts.nc,
        subject: subjects.sitePayload(manifest.federation, manifest.site, manifest.updateId),
        path,
        chunkCount: manifest.chunkCount,
        chunkSize: manifest.chunkSize,
        payloadSize: manifest.payloadSize,
        idleTimeoutMs: this.opts.payloadTimeoutMs,
        deadlineMs: this.uploadDeadlineMs(manifest.payloadSize),
        // The readers share the coordinator's connection, which nats-server drops past 64 MB unsent:
        // large readers share the pull-ahead budget, a small one pulls no more than its payload
        // (the small budget bounds their sum).
        pullAheadBytes: small ? Math.max(1, manifest.payloadSize) : Math.floor(this.opts.pullAheadBytes / Math.max(1, Math.floor(this.opts.concurrency))),
        onChunk: () => this.opts.admission.progress?.(manifest),
      });
    } finally {
      this.uploading.delete(manifest.site);
    }
    if (!read.ok) return read;
    // A small payload was kept in memory: no staging file to remove.
    if (read.staged.path === undefined) staging.path = undefined;
    const mismatch = payloadMismatch(read, manifest.payloadSize, manifest.payloadSha256);
    if (mismatch !== undefined) return mismatch;
    this.log.debug({ updateId: manifest.updateId, bytes: read.bytes }, 'payload digest verified');
    // An opaque member of a heterogeneous round is verified by digest and size only.
    let layout;
    let norm;
    if (isTensorFlavor(manifest.flavor)) {
      const inspected = await inspectStagedPayload(read.staged.path ?? read.staged.bytes, read.bytes, manifest.flavor, ctx);
      if (!inspected.ok) return inspected.refusal;
      layout = inspected.layout;
      norm = inspected.norm;
    }
    return new VerifiedUpdate({ manifest, bytes: read.bytes, staged: read.staged.path ?? read.staged.bytes, blobs: this.opts.blobs, manifestSeq, layout, norm });
  }

  private uploadDeadlineMs(bytes: number): number {
    return payloadReadDeadlineMs(bytes, this.opts);
  }

  private refuse(d: Delivery, r: Refusal): Promise<Outcome> {
    const outcomes = this.outcomes;
    if (!outcomes) throw TributaryError.internal('update ingest is not started');
    // A payload read cut short by the stop is not the site's fault: judge it after the restart.
    if (this.abandoned) return Promise.reject(TributaryError.of(Reason.UNAVAILABLE, 'the coordinator is stopping; the update is judged after its restart'));
    return outcomes.refuse(d, r).then(() => 'ack');
  }

  private jetstream(): JetStreamClient {
    if (!this.js) throw TributaryError.internal('update ingest is not started');
    return this.js;
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
