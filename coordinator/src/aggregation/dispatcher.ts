import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import {
  AGGREGATOR_GROUP,
  Reason,
  STREAM_PARTIALS,
  STREAM_PAYLOADS,
  STREAM_UPDATES,
  TributaryError,
  aggregationEnvelope,
  aggregationSubjects,
  checkSpec,
  decodeEnvelope,
  decodeManifest,
  decodeSafetensors,
  isReasonCode,
  refusalOf,
  signFoldJob,
  signPartialRequest,
  subjects,
  type FoldJob,
  type PartialManifest__Output,
  type ReasonCode,
  type Refusal,
  type SigningKey,
  type TensorSpec__Output,
  type UpdateManifest__Output,
  type UpdateSummary__Output,
  verifyFoldVerdict,
  verifyPartialManifest,
} from '@tributary/proto';
import { DiscardPolicy, RetentionPolicy, StorageType, nanos, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { CoordinatorMetrics } from '../observability/metrics.js';
import type { AdmissionContext } from '../rounds/admission.js';
import type { DelegatedFolds } from '../rounds/delegated-folds.js';
import type { BlobStore, PrincipalRecord, RoundRecord, StateStore, UpdateRecord } from '../state/index.js';
import type { Aggregator } from '../strategies/index.js';
import { isTensorFlavor, type FoldPolicy } from '../updates/foldable-update.js';
import { VerifiedUpdate } from '../updates/verified-update.js';
import { payloadReadDeadlineMs } from '../ingest/payload-reader.js';
import { foldableOf, readCheckedPayload } from './checked-payload.js';

export interface AggregationDispatcherOptions {
  state: StateStore;
  blobs: BlobStore;
  /** The coordinator's key: it signs jobs and partial requests. */
  key: SigningKey;
  metrics: CoordinatorMetrics;
  logger: Logger;
  /** Staging files of payloads and partials read back here. */
  stagingDir: string;
  /** Longest wait for a worker's verdict beyond the payload's read deadline; past it the update is folded here. */
  jobTimeoutMs: number;
  /** Longest wait for a worker's partial manifest. */
  collectTimeoutMs: number;
  /** Longest wait for the next chunk of a payload or partial read here. */
  payloadTimeoutMs: number;
  /** Slowest accepted upload, bytes per second (sets each read's deadline, as the ingest does). */
  minUploadBytesPerSecond: number;
  minUploadMs: number;
  /** Bytes pulled ahead by a read here. */
  pullAheadBytes: number;
}

/** What a worker's verdict may refuse for: the payload's own faults, as the ingest names them. */
const PAYLOAD_REASONS: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  Reason.MALFORMED_PAYLOAD,
  Reason.SCHEMA_MISMATCH,
  Reason.NON_FINITE,
  Reason.VALUE_OUT_OF_RANGE,
  Reason.DIGEST_MISMATCH,
  Reason.SIZE_MISMATCH,
  Reason.PAYLOAD_MISSING,
  Reason.UPLOAD_TIMEOUT,
  Reason.NORM_EXCEEDED,
]);

/** Strategies whose round model is the FedAvg weighted mean of the updates (fedprox only adds a term at the sites). */
const SUMMED_STRATEGIES: ReadonlySet<string> = new Set(['fedavg', 'fedprox']);

/** An update a worker folded: enough to read it again from the data plane. */
interface Assigned {
  readonly manifest: UpdateManifest__Output;
}

/** A worker as its verdicts name it: a principal of the group "aggregators". */
interface Worker {
  readonly name: string;
  readonly keyId: string;
  readonly publicKey: Uint8Array;
}

/** What a worker's partial of a round must be: see `partialOf`. */
interface PartialExpectation {
  readonly worker: Worker;
  readonly round: RoundRecord;
  /** The update ids it must fold, exactly. */
  readonly expected: ReadonlySet<string>;
  /** Their summaries (their total weight). */
  readonly summaries: readonly UpdateSummary__Output[];
  readonly spec: readonly TensorSpec__Output[];
  /** Where its sums must be. */
  readonly subject: string;
}

/** What `partialOf` asks a worker for: its partial of a round, which must be `expected` with their summaries' weight, in `spec`. */
type PartialRequestOf = Omit<PartialExpectation, 'subject'>;

/** One round's updates, by the worker that folded them. */
type RoundAssignments = Map<string, { worker: Worker; updates: Map<string, Assigned> }>;

/**
 * The coordinator's side of the aggregation workers. For a FedAvg round it offers each update
 * whose manifest is verified and admitted as a signed fold job to the workers' queue group; one
 * worker reads and checks the payload, folds it into its partial and answers a signed verdict.
 * At close it asks each worker for its partial, checks the signature, that the update ids are
 * exactly those it was given and accepted, and the digest, and adds the sums to the round's
 * aggregator; a worker that is gone, or whose partial is refused, has its updates re-folded here
 * from the payloads, which stay in TRIB_PAYLOADS until the round ends. With no worker answering,
 * an update is folded here as without workers.
 */
export class AggregationDispatcher implements DelegatedFolds {
  private readonly log: Logger;
  /** Random per start: a worker keeps partials per epoch, so one made for a previous start is never combined. */
  private readonly epoch = randomBytes(8).toString('hex');
  private readonly rounds = new Map<string, RoundAssignments>();
  private nc?: NatsConnection;
  private js?: JetStreamClient;
  private jsm?: JetStreamManager;
  /** Runs whose rounds workers cannot fold, logged once. */
  private readonly localRuns = new Set<string>();

  constructor(private readonly opts: AggregationDispatcherOptions) {
    this.log = opts.logger.child({ component: 'aggregation' });
  }

  /** Binds the connection and creates the partials stream. */
  async start(nc: NatsConnection, replicas = 1): Promise<void> {
    await mkdir(this.opts.stagingDir, { recursive: true });
    this.nc = nc;
    this.js = nc.jetstream();
    this.jsm = await nc.jetstreamManager();
    const config = {
      name: STREAM_PARTIALS,
      subjects: [aggregationSubjects.partialWildcard],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: nanos(24 * 3600 * 1000),
      allow_direct: true,
      num_replicas: replicas,
    };
    await this.jsm.streams.add(config).catch(async (err: unknown) => {
      // Already there (a restart): fine as it is.
      if ((await this.jsm?.streams.info(STREAM_PARTIALS).catch(() => undefined)) === undefined) throw err;
    });
    this.log.info({ epoch: this.epoch }, 'aggregation workers enabled');
  }

  /**
   * Offers an admitted update to the workers. Answers the verified update (folded by a worker),
   * the refusal a worker found in its payload, or undefined: fold it here (no worker answered in
   * time, or the round is not one workers fold).
   */
  async delegate(manifest: UpdateManifest__Output, ctx: AdmissionContext, manifestSeq: number): Promise<VerifiedUpdate | Refusal | undefined> {
    const nc = this.nc;
    if (nc === undefined) return undefined;
    const why = !SUMMED_STRATEGIES.has(ctx.strategy ?? '') ? `strategy ${ctx.strategy ?? 'unknown'} is folded by the coordinator only` : ctx.heterogeneous || !isTensorFlavor(manifest.flavor) ? 'opaque payloads are folded by the coordinator only' : undefined;
    if (why !== undefined) {
      if (!this.localRuns.has(manifest.runId)) this.log.info({ runId: manifest.runId, why }, 'updates of this run are folded here, not by aggregation workers');
      this.localRuns.add(manifest.runId);
      this.opts.metrics.foldJobs.inc({ outcome: 'local' });
      return undefined;
    }
    const readMs = this.readDeadlineMs(Number(manifest.payloadSize));
    const now = Date.now();
    const job: FoldJob = {
      epoch: this.epoch,
      federation: manifest.federation,
      runId: manifest.runId,
      round: manifest.round,
      site: manifest.site,
      updateId: manifest.updateId,
      payloadSubject: subjects.sitePayload(manifest.federation, manifest.site, manifest.updateId),
      chunkCount: manifest.chunkCount,
      chunkSize: manifest.chunkSize,
      payloadSize: manifest.payloadSize,
      payloadSha256: manifest.payloadSha256,
      manifestSha256: manifestDigest(manifest),
      modelSpec: [...ctx.modelSpec],
      numExamples: manifest.numExamples,
      issuedAtMs: now,
      deadlineAtMs: now + readMs,
      baseVersion: ctx.baseVersion ?? 0,
      normBound: ctx.normBound,
      normMode: ctx.normMode,
    };
    let answer: Uint8Array;
    try {
      answer = (await nc.request(aggregationSubjects.job, signFoldJob(job, this.opts.key), { timeout: readMs + this.opts.jobTimeoutMs })).data;
    } catch (err) {
      this.log.debug({ updateId: manifest.updateId, err: TributaryError.from(err).message }, 'no aggregation worker answered: the update is folded here');
      this.opts.metrics.foldJobs.inc({ outcome: 'local' });
      return undefined;
    }
    const opened = await this.openVerdict(answer, job);
    if (opened === undefined) {
      this.opts.metrics.foldJobs.inc({ outcome: 'local' });
      return undefined;
    }
    const { worker, verdict } = opened;
    if (!verdict.accepted) {
      const reason = verdict.reason;
      if (!isReasonCode(reason) || !PAYLOAD_REASONS.has(reason)) {
        this.log.warn({ updateId: manifest.updateId, worker: worker.name, reason: verdict.reason }, 'a worker could not judge the update: it is folded here');
        this.opts.metrics.foldJobs.inc({ outcome: 'local' });
        return undefined;
      }
      this.opts.metrics.foldJobs.inc({ outcome: 'refused' });
      return refusalOf(reason, verdict.message);
    }
    this.assign(manifest, worker);
    this.opts.metrics.foldJobs.inc({ outcome: 'folded' });
    return new VerifiedUpdate({ manifest, bytes: Number(manifest.payloadSize), blobs: this.opts.blobs, manifestSeq, foldedBy: worker.name, clippedByWorker: verdict.clipped });
  }

  async collect(round: RoundRecord, aggregator: Aggregator, policy: FoldPolicy): Promise<void> {
    const key = roundKey(round.runId, round.number);
    const assignments = this.rounds.get(key);
    if (assignments === undefined) return;
    const accepted = new Map(round.accepted.map((u) => [u.updateId, u]));
    for (const [name, { worker, updates }] of assignments) {
      const expected = [...updates.keys()].filter((id) => accepted.has(id));
      const summaries = expected.map((id) => accepted.get(id) as UpdateSummary__Output);
      let combined = false;
      if (aggregator.foldPartial !== undefined) {
        try {
          const sums = await this.partialOf({ worker, round, expected: new Set(expected), summaries, spec: policy.modelSpec });
          if (expected.length > 0) await aggregator.foldPartial({ sums, updates: summaries.map((u) => ({ site: u.site, updateId: u.updateId, numExamples: Number(u.numExamples), metrics: u.metrics })) });
          combined = true;
          this.opts.metrics.partials.inc({ outcome: 'combined' });
          this.log.info({ runId: round.runId, round: round.number, worker: name, updates: expected.length }, 'partial combined');
        } catch (err) {
          const e = TributaryError.from(err);
          this.opts.metrics.partials.inc({ outcome: e.reason });
          this.log.warn({ runId: round.runId, round: round.number, worker: name, reason: e.reason, err: e.message }, 'partial refused: its updates are re-folded here');
        }
      }
      if (!combined) {
        for (const u of summaries) {
          const manifest = updates.get(u.updateId)?.manifest;
          const bytes = await this.reread({ federation: round.federation, update: u, ...(manifest === undefined ? {} : { manifest }) });
          const checked = await foldableOf({ bytes, flavor: u.flavor || 'tensors', policy });
          if (!checked.ok) throw TributaryError.of(Reason.STRATEGY_ERROR, `accepted update ${u.updateId} no longer verifies: ${checked.refusal.message}`);
          await aggregator.fold({ site: u.site, updateId: u.updateId, numExamples: Number(u.numExamples), metrics: u.metrics, flavor: u.flavor || 'tensors', tensors: checked.foldable.tensors });
        }
      }
    }
    // Kept until `ended`: a job still under way at close may leave a worker a partial to drop.
  }

  payloadOf(federation: string, update: UpdateSummary__Output): Promise<Uint8Array> {
    return this.reread({ federation, update });
  }

  ended(round: RoundRecord): void {
    const key = roundKey(round.runId, round.number);
    const assignments = this.rounds.get(key);
    this.rounds.delete(key);
    // Workers drop what they may still hold of the round (a failed round, a job still under way at close).
    for (const { worker } of assignments?.values() ?? []) {
      this.nc?.publish(aggregationSubjects.collect(worker.name), signPartialRequest({ epoch: this.epoch, runId: round.runId, round: round.number, abandon: true, issuedAtMs: Date.now() }, this.opts.key));
    }
    // The accepted updates' chunks stayed for a re-fold; the round is over.
    const jsm = this.jsm;
    if (jsm === undefined) return;
    for (const u of round.accepted) {
      void this.opts.blobs.has(u.payloadSha256).then(async (kept) => {
        if (!kept) await jsm.streams.purge(STREAM_PAYLOADS, { filter: subjects.sitePayload(round.federation, u.site, u.updateId) });
      }).catch((err: unknown) => this.log.warn({ updateId: u.updateId, err: TributaryError.from(err).message }, 'could not purge payload chunks; the sweeper retries'));
    }
  }

  /**
   * Whether the payload sweeper must keep an update's chunks: accepted, folded by a worker (no
   * blob holds it), and its round not over, so a re-fold can still read it.
   */
  async keepsPayload(record: UpdateRecord): Promise<boolean> {
    if (record.state !== 'ACCEPTED' || record.summary === undefined) return false;
    if (await this.opts.blobs.has(record.summary.payloadSha256)) return false;
    const round = await this.opts.state.getRound(record.runId, record.round);
    return round !== undefined && round.state !== 'ROUND_STATE_COMMITTED' && round.state !== 'ROUND_STATE_FAILED';
  }

  private assign(manifest: UpdateManifest__Output, worker: Worker): void {
    const key = roundKey(manifest.runId, manifest.round);
    const round = this.rounds.get(key) ?? new Map();
    this.rounds.set(key, round);
    const held = round.get(worker.name) ?? { worker, updates: new Map<string, Assigned>() };
    round.set(worker.name, held);
    held.updates.set(manifest.updateId, { manifest });
  }

  /** The verdict, if signed by an active aggregation worker and about this job; undefined (logged) otherwise. */
  private async openVerdict(bytes: Uint8Array, job: FoldJob): Promise<{ worker: Worker; verdict: ReturnType<typeof verifyFoldVerdict>['body'] } | undefined> {
    try {
      const env = aggregationEnvelope(bytes, 'fold-verdict');
      const worker = await this.workerOf(env.keyId);
      const verdict = verifyFoldVerdict(env, worker.publicKey).body;
      if (verdict.epoch !== job.epoch || verdict.runId !== job.runId || verdict.round !== job.round || verdict.updateId !== job.updateId || verdict.manifestSha256 !== job.manifestSha256) {
        throw TributaryError.of(Reason.MALFORMED_ENVELOPE, 'the verdict is about another job');
      }
      if (verdict.worker !== worker.name) throw TributaryError.of(Reason.SIGNATURE_INVALID, `the verdict names worker "${verdict.worker}" but is signed by "${worker.name}"`);
      return { worker, verdict };
    } catch (err) {
      const e = TributaryError.from(err);
      this.log.warn({ updateId: job.updateId, reason: e.reason, err: e.message }, 'fold verdict refused: the update is folded here');
      return undefined;
    }
  }

  private async workerOf(keyId: string): Promise<Worker> {
    return this.workerFrom(await this.opts.state.getPrincipalByKeyId(keyId), `key ${JSON.stringify(keyId)}`);
  }

  private async currentWorker(name: string): Promise<Worker> {
    try {
      return this.workerFrom(await this.opts.state.getPrincipal(name), `principal "${name}"`);
    } catch (err) {
      throw TributaryError.of(Reason.PARTIAL_REFUSED, `partial of worker "${name}" refused: ${TributaryError.from(err).message}`);
    }
  }

  private workerFrom(p: PrincipalRecord | undefined, what: string): Worker {
    if (p === undefined) throw TributaryError.of(Reason.UNKNOWN_KEY, `${what} is not known`);
    if (p.status !== 'ACTIVE') throw TributaryError.of(Reason.KEY_REVOKED, `principal "${p.name}" is disabled`);
    if (!p.groups.includes(AGGREGATOR_GROUP)) throw TributaryError.of(Reason.NOT_AN_AGGREGATOR, `principal "${p.name}" is not in the group "${AGGREGATOR_GROUP}"`);
    return { name: p.name, keyId: p.keyId, publicKey: Buffer.from(p.publicKey, 'base64') };
  }

  /**
   * Asks `worker` for its partial of the round and checks it: signed by the worker's key (as
   * registered now), about this start, run and round, folding exactly the `expected` update ids
   * with their total weight, F64 sums in the model's names and shapes, digest and size as
   * signed. Answers the sums in spec order; PARTIAL_REFUSED (or the reader's reason) otherwise.
   */
  private async partialOf({ worker: assigned, round, expected, summaries, spec }: PartialRequestOf): Promise<Float64Array[]> {
    // The principal as it is now: a worker disabled, moved out of the group or given a new key since its verdicts is not taken at its word.
    const worker = await this.currentWorker(assigned.name);
    const nc = this.nc;
    const jsm = this.jsm;
    const js = this.js;
    if (nc === undefined || jsm === undefined || js === undefined) throw TributaryError.of(Reason.UNAVAILABLE, 'aggregation is not started');
    const subject = aggregationSubjects.partial(worker.name, round.runId, round.number);
    // Leftovers of an earlier attempt would be read as this partial's first chunks.
    await jsm.streams.purge(STREAM_PARTIALS, { filter: subject });
    let answer: Uint8Array;
    try {
      answer = (await nc.request(aggregationSubjects.collect(worker.name), signPartialRequest({ epoch: this.epoch, runId: round.runId, round: round.number, abandon: false, issuedAtMs: Date.now() }, this.opts.key), { timeout: this.opts.collectTimeoutMs })).data;
    } catch (err) {
      throw TributaryError.of(Reason.UNAVAILABLE, `worker "${worker.name}" did not answer: ${TributaryError.from(err).message}`);
    }
    try {
      const m = this.openPartial(answer, { worker, round, expected, summaries, spec, subject });
      const read = await readCheckedPayload({
        js,
        nc,
        subject,
        stream: STREAM_PARTIALS,
        stagingDir: this.opts.stagingDir,
        name: `partial-${worker.name}-${round.runId}-${round.number}`,
        chunkCount: m.chunkCount,
        chunkSize: m.chunkSize,
        payloadSize: Number(m.payloadSize),
        sha256: m.payloadSha256,
        idleTimeoutMs: this.opts.payloadTimeoutMs,
        deadlineMs: this.readDeadlineMs(Number(m.payloadSize)),
        pullAheadBytes: this.opts.pullAheadBytes,
      });
      if (!read.ok) throw TributaryError.of(Reason.PARTIAL_REFUSED, `partial of worker "${worker.name}": ${read.refusal.reason}: ${read.refusal.message}`);
      let tensors;
      try {
        tensors = decodeSafetensors(read.bytes).tensors;
      } catch (err) {
        throw TributaryError.of(Reason.PARTIAL_REFUSED, `partial of worker "${worker.name}" does not decode: ${TributaryError.from(err).message}`);
      }
      return spec.map((s) => {
        const t = tensors[s.name];
        if (t === undefined || !(t.data instanceof Float64Array) || !t.data.every(Number.isFinite)) {
          throw TributaryError.of(Reason.PARTIAL_REFUSED, `partial of worker "${worker.name}": tensor "${s.name}" is missing, not F64 or not finite`);
        }
        return t.data;
      });
    } finally {
      await jsm.streams.purge(STREAM_PARTIALS, { filter: subject }).catch(() => undefined);
    }
  }

  private openPartial(answer: Uint8Array, { worker, round, expected, summaries, spec, subject }: PartialExpectation): PartialManifest__Output {
    const refuse = (why: string): TributaryError => TributaryError.of(Reason.PARTIAL_REFUSED, `partial of worker "${worker.name}" refused: ${why}`);
    let m: PartialManifest__Output;
    try {
      const env = aggregationEnvelope(answer, 'partial');
      if (env.keyId !== worker.keyId) throw refuse(`signed with key ${JSON.stringify(env.keyId)}, not the worker's`);
      m = verifyPartialManifest(env, worker.publicKey).body;
    } catch (err) {
      throw TributaryError.from(err).reason === Reason.PARTIAL_REFUSED ? err : refuse(TributaryError.from(err).message);
    }
    if (m.worker !== worker.name || m.epoch !== this.epoch || m.runId !== round.runId || m.round !== round.number) throw refuse('it is about another worker, start, run or round');
    const ids = new Set(m.updateIds);
    if (ids.size !== m.updateIds.length || ids.size !== expected.size || [...expected].some((id) => !ids.has(id))) {
      throw refuse(`its ${m.updateIds.length} update id(s) are not exactly the ${expected.size} it was given and the round accepted`);
    }
    const weight = summaries.reduce((sum, u) => sum + Number(u.numExamples), 0);
    if (Number(m.totalWeight) !== weight) throw refuse(`total weight ${m.totalWeight} is not ${weight}`);
    if (m.payloadSubject !== subject) throw refuse('its sums are on another subject');
    const wanted = spec.map((s) => ({ name: s.name, dtype: 'F64', shape: s.shape }));
    const mismatch = checkSpec(wanted, m.tensors);
    if (mismatch !== undefined) throw refuse(`its sums do not match the model: ${mismatch}`);
    return m;
  }

  /**
   * An accepted update's payload, read again from TRIB_PAYLOADS and checked against its recorded
   * digest; its chunk layout from `manifest`, or else from the manifest stored in TRIB_UPDATES.
   */
  private async reread({ federation, update: u, manifest: known }: { federation: string; update: UpdateSummary__Output; manifest?: UpdateManifest__Output }): Promise<Uint8Array> {
    const nc = this.nc;
    const js = this.js;
    if (nc === undefined || js === undefined) throw TributaryError.of(Reason.UNAVAILABLE, 'aggregation is not started');
    const manifest = known ?? (await this.storedManifest(u.updateId));
    const size = Number(u.payloadSize);
    const read = await readCheckedPayload({
      js,
      nc,
      subject: subjects.sitePayload(federation, u.site, u.updateId),
      stagingDir: this.opts.stagingDir,
      name: u.updateId,
      chunkCount: manifest.chunkCount,
      chunkSize: manifest.chunkSize,
      payloadSize: size,
      sha256: u.payloadSha256,
      idleTimeoutMs: this.opts.payloadTimeoutMs,
      deadlineMs: this.readDeadlineMs(size),
      pullAheadBytes: this.opts.pullAheadBytes,
    });
    if (!read.ok) throw TributaryError.of(Reason.STRATEGY_ERROR, `accepted update ${u.updateId} cannot be read again: ${read.refusal.reason}: ${read.refusal.message}`);
    return read.bytes;
  }

  /** The manifest an accepted update came with (its chunk layout), from TRIB_UPDATES. */
  private async storedManifest(updateId: string): Promise<UpdateManifest__Output> {
    const record = await this.opts.state.getUpdate(updateId);
    const seq = record?.manifestSeq;
    if (seq === undefined || this.jsm === undefined) throw TributaryError.of(Reason.STRATEGY_ERROR, `the manifest of accepted update ${updateId} is not known`);
    const m = await this.jsm.streams.getMessage(STREAM_UPDATES, { seq });
    const manifest = decodeManifest(decodeEnvelope(m.data).body);
    if (manifest.updateId !== updateId) throw TributaryError.of(Reason.STRATEGY_ERROR, `the manifest stored for update ${updateId} names another update`);
    return manifest;
  }

  private readDeadlineMs(bytes: number): number {
    return payloadReadDeadlineMs(bytes, this.opts);
  }
}

function roundKey(runId: string, round: number): string {
  return `${runId}/${round}`;
}

/** SHA-256 of the manifest's fields the job repeats: the verdict must echo it. */
function manifestDigest(m: UpdateManifest__Output): string {
  return createHash('sha256').update(JSON.stringify([m.federation, m.runId, m.round, m.site, m.updateId, m.payloadSha256, String(m.payloadSize), String(m.numExamples)])).digest('hex');
}
