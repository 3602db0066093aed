import { mkdir } from 'node:fs/promises';
import {
  AGGREGATOR_QUEUE,
  CHUNK_INDEX_HEADER,
  DEFAULT_CHUNK_SIZE,
  Reason,
  TributaryError,
  aggregationSubjects,
  encodeSafetensors,
  openFoldJob,
  openPartialRequest,
  refusalOf,
  sendInWindow,
  signFoldVerdict,
  signPartialManifest,
  subjects,
  tensor,
  type FoldJob__Output,
  type FoldVerdict,
  type PartialManifest,
  type Refusal,
  type SigningKey,
  type TensorMap,
  type TensorSpec__Output,
} from '@tributary/proto';
import { createHash } from 'node:crypto';
import { headers, type JetStreamClient, type Msg, type NatsConnection, type Subscription } from 'nats';
import type { Logger } from 'pino';
import { FoldAccumulator } from '../strategies/index.js';
import type { FoldPolicy } from '../updates/foldable-update.js';
import { foldableOf, readCheckedPayload } from './checked-payload.js';

export interface AggregationWorkerOptions {
  /** A connection as this worker's NATS user (`AdminService.JoinAggregation`). */
  nc: NatsConnection;
  /** The worker's Ed25519 key: it signs verdicts and partials. */
  key: SigningKey;
  /** The worker's principal name. */
  worker: string;
  /** Jobs and partial requests must be signed with this key (the coordinator's). */
  coordinatorPublicKey: Uint8Array;
  /** Staging files of payloads larger than one chunk. */
  stagingDir: string;
  logger: Logger;
  /** Jobs read at the same time. @default 2 */
  concurrency?: number;
  /** Longest wait for the next payload chunk. @default 30000 */
  idleTimeoutMs?: number;
  /** Payload bytes pulled ahead over all reads together. @default 16 MiB */
  pullAheadBytes?: number;
  /**
   * The tensors of a federation's model version: the global model a norm bound measures from.
   * Without it, jobs of rounds with a norm bound are refused (the coordinator folds them itself).
   */
  globalModel?: (federation: string, version: number) => Promise<TensorMap>;
  /** Called after every job, with the counts so far. */
  onProgress?: (progress: AggregationWorkerProgress) => void;
}

export interface AggregationWorkerProgress {
  readonly folded: number;
  readonly refused: number;
  readonly partialsHandedBack: number;
  /** Partials held now, one per (coordinator start, run, round). */
  readonly partialsHeld: number;
}

/** One round's partial: the weighted sums of the updates this worker folded. */
interface Partial {
  readonly epoch: string;
  readonly runId: string;
  readonly round: number;
  readonly spec: TensorSpec__Output[];
  readonly sums: FoldAccumulator;
  readonly updateIds: string[];
  weight: number;
  /** Folds into these sums run one after another. */
  folding: Promise<void>;
}

/**
 * An aggregation worker (`tributary aggregator`): takes fold jobs in the workers' queue group,
 * reads each update's chunks from the payload stream, checks digest, size, schema and values
 * exactly as the coordinator's ingest does, folds the update into its partial for the round and
 * answers a signed verdict; when the coordinator closes the round it hands back the partial sums
 * (chunks on TRIB_PARTIALS) with a signed partial manifest. Stopping drops the partials: the
 * coordinator re-folds their updates from the payloads it keeps until the round ends.
 */
export class AggregationWorker {
  private readonly log: Logger;
  private readonly js: JetStreamClient;
  private readonly partials = new Map<string, Partial>();
  /** Global models by federation and version, loading or loaded. */
  private readonly models = new Map<string, Promise<TensorMap>>();
  private jobs?: Subscription;
  private collects?: Subscription;
  private running?: Promise<void>;
  private folded = 0;
  private refused = 0;
  private handedBack = 0;

  private constructor(private readonly opts: AggregationWorkerOptions) {
    this.log = opts.logger.child({ component: 'aggregator', worker: opts.worker });
    this.js = opts.nc.jetstream();
  }

  static async start(opts: AggregationWorkerOptions): Promise<AggregationWorker> {
    await mkdir(opts.stagingDir, { recursive: true, mode: 0o700 });
    const worker = new AggregationWorker(opts);
    worker.listen();
    await opts.nc.flush();
    return worker;
  }

  get progress(): AggregationWorkerProgress {
    return { folded: this.folded, refused: this.refused, partialsHandedBack: this.handedBack, partialsHeld: this.partials.size };
  }

  /** Takes no more jobs, finishes the ones under way, and drops every partial (the coordinator re-folds them). */
  async stop(): Promise<void> {
    this.jobs?.unsubscribe();
    await this.running;
    this.collects?.unsubscribe();
    if (this.partials.size > 0) this.log.info({ partials: this.partials.size }, 'partials abandoned: the coordinator re-folds their updates');
    this.partials.clear();
  }

  private listen(): void {
    const concurrency = Math.max(1, Math.floor(this.opts.concurrency ?? 2));
    const jobs = this.opts.nc.subscribe(aggregationSubjects.job, { queue: AGGREGATOR_QUEUE });
    this.jobs = jobs;
    this.running = (async () => {
      const active = new Set<Promise<void>>();
      try {
        for await (const m of jobs) {
          const handled = this.job(m).finally(() => active.delete(handled));
          active.add(handled);
          if (active.size >= concurrency) await Promise.race(active);
        }
      } catch (err) {
        this.log.error({ err: TributaryError.from(err).message }, 'fold jobs can no longer be taken');
      } finally {
        await Promise.allSettled([...active]);
      }
    })();
    const collects = this.opts.nc.subscribe(aggregationSubjects.collect(this.opts.worker));
    this.collects = collects;
    void (async () => {
      try {
        for await (const m of collects) await this.collect(m);
      } catch (err) {
        this.log.error({ err: TributaryError.from(err).message }, 'partial requests can no longer be heard: the coordinator re-folds this worker\'s updates');
      }
    })();
  }

  /** One fold job; answers a signed verdict, or nothing to a job it cannot open (the coordinator folds it itself). */
  private async job(m: Msg): Promise<void> {
    let job: FoldJob__Output;
    try {
      job = openFoldJob(m.data, this.opts.coordinatorPublicKey).body;
    } catch (err) {
      this.log.warn({ reason: TributaryError.from(err).reason, err: TributaryError.from(err).message }, 'fold job ignored: not signed by the coordinator');
      return;
    }
    const verdict: FoldVerdict = { epoch: job.epoch, runId: job.runId, round: job.round, updateId: job.updateId, manifestSha256: job.manifestSha256, worker: this.opts.worker, accepted: false };
    let refusal: Refusal | undefined;
    try {
      const folded = await this.fold(job);
      if ('reason' in folded) refusal = folded;
      else verdict.clipped = folded.clipped;
    } catch (err) {
      const e = TributaryError.from(err);
      this.log.error({ updateId: job.updateId, err: e.message }, 'fold job failed');
      refusal = refusalOf(Reason.INTERNAL, e.message);
    }
    if (refusal === undefined) {
      verdict.accepted = true;
      this.folded += 1;
    } else {
      verdict.reason = refusal.reason;
      verdict.message = refusal.message;
      this.refused += 1;
      this.log.info({ updateId: job.updateId, site: job.site, reason: refusal.reason }, `update refused: ${refusal.message}`);
    }
    if (m.reply) m.respond(signFoldVerdict(verdict, this.opts.key));
    this.opts.onProgress?.(this.progress);
  }

  /** Reads, checks and folds one update into its round's partial; a refusal leaves the partial as it was. */
  private async fold(job: FoldJob__Output): Promise<Refusal | { clipped: boolean }> {
    const deadlineMs = Number(job.deadlineAtMs) - Date.now();
    if (deadlineMs <= 0) return refusalOf(Reason.UNAVAILABLE, 'the job arrived past its deadline');
    if (job.payloadSubject !== subjects.sitePayload(job.federation, job.site, job.updateId)) {
      return refusalOf(Reason.MALFORMED_MANIFEST, 'the job names a payload subject that is not the update\'s');
    }
    const read = await readCheckedPayload({
      js: this.js,
      nc: this.opts.nc,
      subject: job.payloadSubject,
      stagingDir: this.opts.stagingDir,
      name: job.updateId,
      chunkCount: job.chunkCount,
      chunkSize: job.chunkSize,
      payloadSize: Number(job.payloadSize),
      sha256: job.payloadSha256,
      idleTimeoutMs: this.opts.idleTimeoutMs ?? 30_000,
      deadlineMs,
      pullAheadBytes: Math.floor((this.opts.pullAheadBytes ?? 16 * 1024 * 1024) / Math.max(1, this.opts.concurrency ?? 2)),
    });
    if (!read.ok) return read.refusal;
    const policy: FoldPolicy = { modelSpec: job.modelSpec, globalModel: await this.globalModelOf(job), normBound: job.normBound, normMode: job.normMode === 'clip' ? 'clip' : 'refuse', heterogeneous: false };
    const checked = await foldableOf({ bytes: read.bytes, flavor: 'tensors', policy });
    if (!checked.ok) return checked.refusal;
    const partial = this.partialOf(job);
    const values = partial.spec.map((s) => {
      const t = checked.foldable.tensors[s.name];
      if (t === undefined) throw TributaryError.of(Reason.SCHEMA_MISMATCH, `tensor "${s.name}" is missing`);
      return t.data instanceof Float32Array || t.data instanceof Float64Array ? t.data : Float64Array.from(t.data as ArrayLike<number>, Number);
    });
    const weight = Number(job.numExamples);
    const folding = partial.folding.then(async () => {
      for (const [i, v] of values.entries()) await partial.sums.addInSlices(i, v, weight, 1 << 20);
      partial.updateIds.push(job.updateId);
      partial.weight += weight;
    });
    partial.folding = folding.catch(() => undefined);
    await folding;
    return { clipped: checked.foldable.clipped };
  }

  /** The global model a norm bound measures from; the last few versions are kept. */
  private async globalModelOf(job: FoldJob__Output): Promise<TensorMap> {
    if (!(job.normBound > 0)) return {};
    const load = this.opts.globalModel;
    if (load === undefined) throw TributaryError.of(Reason.FAILED_PRECONDITION, 'this worker cannot fetch global models, which a norm bound needs');
    const key = `${job.federation}@${job.baseVersion}`;
    let model = this.models.get(key);
    if (model === undefined) {
      model = load(job.federation, job.baseVersion);
      this.models.set(key, model);
      model.catch(() => this.models.delete(key));
      for (const k of [...this.models.keys()].slice(0, Math.max(0, this.models.size - 4))) this.models.delete(k);
    }
    return model;
  }

  private partialOf(job: FoldJob__Output): Partial {
    const key = `${job.epoch}/${job.runId}/${job.round}`;
    let partial = this.partials.get(key);
    if (partial === undefined) {
      // A partial of the same round for an earlier coordinator start is never asked for: the restarted coordinator re-folded its updates.
      for (const [k, p] of this.partials) if (p.runId === job.runId && p.round === job.round) this.partials.delete(k);
      const spec = job.modelSpec;
      partial = { epoch: job.epoch, runId: job.runId, round: job.round, spec, sums: new FoldAccumulator(spec.map((s) => elements(s.shape))), updateIds: [], weight: 0, folding: Promise.resolve() };
      this.partials.set(key, partial);
    }
    return partial;
  }

  /** Hands back (or drops) a round's partial: its sums as chunks on TRIB_PARTIALS, then the signed manifest as the answer. */
  private async collect(m: Msg): Promise<void> {
    try {
      const request = openPartialRequest(m.data, this.opts.coordinatorPublicKey).body;
      const key = `${request.epoch}/${request.runId}/${request.round}`;
      const partial = this.partials.get(key);
      this.partials.delete(key);
      const manifest: PartialManifest = { worker: this.opts.worker, epoch: request.epoch, runId: request.runId, round: request.round, updateIds: [], totalWeight: 0 };
      if (partial !== undefined && !request.abandon) {
        await partial.folding;
        const sums = encodeSafetensors(Object.fromEntries(partial.spec.map((s, i) => [s.name, tensor('F64', s.shape.map(Number), partial.sums.sums[i] as Float64Array)])));
        const subject = aggregationSubjects.partial(this.opts.worker, request.runId, request.round);
        const chunkCount = Math.max(1, Math.ceil(sums.byteLength / DEFAULT_CHUNK_SIZE));
        // Acked publishes in a window, as sites send payloads: a failed one leaves the request unanswered, and the coordinator re-folds.
        await sendInWindow({
          count: chunkCount,
          send: async (i) => {
            const h = headers();
            h.set(CHUNK_INDEX_HEADER, String(i));
            await this.js.publish(subject, sums.subarray(i * DEFAULT_CHUNK_SIZE, Math.min(sums.byteLength, (i + 1) * DEFAULT_CHUNK_SIZE)), { headers: h });
          },
        });
        Object.assign(manifest, {
          updateIds: partial.updateIds,
          totalWeight: partial.weight,
          payloadSubject: subject,
          chunkCount,
          chunkSize: DEFAULT_CHUNK_SIZE,
          payloadSize: sums.byteLength,
          payloadSha256: createHash('sha256').update(sums).digest('hex'),
          tensors: partial.spec.map((s) => ({ name: s.name, dtype: 'F64', shape: s.shape })),
        });
        this.handedBack += 1;
        this.log.info({ runId: request.runId, round: request.round, updates: partial.updateIds.length }, 'partial handed back');
      }
      if (m.reply) m.respond(signPartialManifest(manifest, this.opts.key));
      this.opts.onProgress?.(this.progress);
    } catch (err) {
      const e = TributaryError.from(err);
      this.log.warn({ reason: e.reason, err: e.message }, 'partial request not answered');
    }
  }
}

function elements(shape: readonly (number | string)[]): number {
  return shape.reduce<number>((n, d) => n * Number(d), 1);
}
