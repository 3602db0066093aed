import { Reason, TributaryError } from './errors.js';
import { signEnvelope, verifyEnvelope, type EnvelopeKind } from './envelope.js';
import type { FoldJob, FoldJob__Output } from './generated/tributary/v1/FoldJob.js';
import type { FoldVerdict, FoldVerdict__Output } from './generated/tributary/v1/FoldVerdict.js';
import type { PartialManifest, PartialManifest__Output } from './generated/tributary/v1/PartialManifest.js';
import type { PartialRequest, PartialRequest__Output } from './generated/tributary/v1/PartialRequest.js';
import type { SignedEnvelope__Output } from './generated/tributary/v1/SignedEnvelope.js';
import { signBytesNative, type SigningKey } from './keys.js';
import { assertName } from './names.js';
import { ID_TOKEN, ROUND_TOKEN } from './subjects.js';
import { decodeEnvelope, encodeEnvelope, messageCodec, type MessageCodec } from './wire.js';

/** JetStream stream of partial sums handed back by aggregation workers. */
export const STREAM_PARTIALS = 'TRIB_PARTIALS';
/** The queue group every aggregation worker takes fold jobs in. */
export const AGGREGATOR_QUEUE = 'tributary-aggregators';
/** The principal group that makes a key an aggregation worker. */
export const AGGREGATOR_GROUP = 'aggregators';
/** Largest signed job, verdict, request or partial manifest (a partial lists its update ids). */
export const MAX_AGGREGATION_MESSAGE_BYTES = 512 * 1024;

/** Subjects of the aggregation plane: a root of their own, apart from every federation's `trib.<federation>.…`. */
export const aggregationSubjects = {
  /** Fold jobs (requests), taken by one worker of the queue group. */
  job: 'tribagg.job',
  /** Where the coordinator asks `worker` for its partials. */
  collect(worker: string): string {
    return `tribagg.collect.${assertName('principal', worker)}`;
  },
  /** A worker's partial sums of (run, round), in chunks on TRIB_PARTIALS. */
  partial(worker: string, runId: string, round: number): string {
    if (!ID_TOKEN.test(runId)) throw TributaryError.invalidArgument('run id is not a subject token');
    if (!ROUND_TOKEN.test(String(round))) throw TributaryError.invalidArgument('round is not a subject token');
    return `tribagg.partial.${assertName('principal', worker)}.${runId}.${round}`;
  },
  /** Every worker's partial sums (the stream's subjects). */
  partialWildcard: 'tribagg.partial.>',
  /** Every partial of `worker`. */
  partialsOf(worker: string): string {
    return `tribagg.partial.${assertName('principal', worker)}.>`;
  },
  /** Every worker's collect subject (what the coordinator may publish on). */
  collectWildcard: 'tribagg.collect.*',
  /** The inbox prefix of `worker`'s NATS connection. */
  inboxPrefix(worker: string): string {
    return `_INBOX_AGG_${assertName('principal', worker)}`;
  },
};

const foldJobCodec = messageCodec<FoldJob, FoldJob__Output>('FoldJob', Reason.MALFORMED_MANIFEST);
const foldVerdictCodec = messageCodec<FoldVerdict, FoldVerdict__Output>('FoldVerdict', Reason.MALFORMED_MANIFEST);
const partialRequestCodec = messageCodec<PartialRequest, PartialRequest__Output>('PartialRequest', Reason.MALFORMED_MANIFEST);
const partialManifestCodec = messageCodec<PartialManifest, PartialManifest__Output>('PartialManifest', Reason.MALFORMED_MANIFEST);

/** A signed aggregation message, opened: who signed it, and its decoded body. */
export interface OpenedAggregationMessage<T> {
  readonly keyId: string;
  readonly body: T;
}

function seal<In extends object>(kind: EnvelopeKind, codec: MessageCodec<In, unknown>, message: In, key: SigningKey): Uint8Array {
  return encodeEnvelope(signEnvelope(kind, codec.encode(message), key, signBytesNative));
}

/** The envelope of a message of `kind`, bounded; MALFORMED_ENVELOPE otherwise. Not yet verified. */
export function aggregationEnvelope(bytes: Uint8Array, kind: EnvelopeKind): SignedEnvelope__Output {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength > MAX_AGGREGATION_MESSAGE_BYTES) {
    throw TributaryError.of(Reason.MALFORMED_ENVELOPE, `a ${kind} message is at most ${MAX_AGGREGATION_MESSAGE_BYTES} bytes`);
  }
  const env = decodeEnvelope(bytes);
  if (env.kind !== kind) throw TributaryError.of(Reason.MALFORMED_ENVELOPE, `envelope kind "${env.kind}" is not "${kind}"`);
  return env;
}

/**
 * Opens a message of `kind`: bounded, of that kind, signed by `publicKey` over the body as
 * received (SIGNATURE_INVALID), then decoded.
 */
function open<Out>(bytes: Uint8Array, kind: EnvelopeKind, codec: MessageCodec<never, Out>, publicKey: Uint8Array): OpenedAggregationMessage<Out> {
  return verified(aggregationEnvelope(bytes, kind), kind, codec, publicKey);
}

/**
 * An envelope already read (by `aggregationEnvelope`, to learn its signer's key id), checked to be
 * of `kind` and signed by `publicKey`, then its body decoded: the message is not decoded twice.
 */
function verified<Out>(env: SignedEnvelope__Output, kind: EnvelopeKind, codec: MessageCodec<never, Out>, publicKey: Uint8Array): OpenedAggregationMessage<Out> {
  if (env.kind !== kind) throw TributaryError.of(Reason.MALFORMED_ENVELOPE, `envelope kind "${env.kind}" is not "${kind}"`);
  if (!verifyEnvelope(env, publicKey)) throw TributaryError.of(Reason.SIGNATURE_INVALID, `the ${kind} message is not signed by the expected key`);
  return { keyId: env.keyId, body: codec.decode(env.body) };
}

export const signFoldJob = (job: FoldJob, key: SigningKey): Uint8Array => seal('fold-job', foldJobCodec, job, key);
export const openFoldJob = (bytes: Uint8Array, coordinatorKey: Uint8Array): OpenedAggregationMessage<FoldJob__Output> => open(bytes, 'fold-job', foldJobCodec, coordinatorKey);
export const signFoldVerdict = (verdict: FoldVerdict, key: SigningKey): Uint8Array => seal('fold-verdict', foldVerdictCodec, verdict, key);
export const openFoldVerdict = (bytes: Uint8Array, workerKey: Uint8Array): OpenedAggregationMessage<FoldVerdict__Output> => open(bytes, 'fold-verdict', foldVerdictCodec, workerKey);
/** A fold verdict's envelope from `aggregationEnvelope`, verified against the worker's key and decoded. */
export const verifyFoldVerdict = (env: SignedEnvelope__Output, workerKey: Uint8Array): OpenedAggregationMessage<FoldVerdict__Output> => verified(env, 'fold-verdict', foldVerdictCodec, workerKey);
export const signPartialRequest = (request: PartialRequest, key: SigningKey): Uint8Array => seal('partial-request', partialRequestCodec, request, key);
export const openPartialRequest = (bytes: Uint8Array, coordinatorKey: Uint8Array): OpenedAggregationMessage<PartialRequest__Output> => open(bytes, 'partial-request', partialRequestCodec, coordinatorKey);
export const signPartialManifest = (manifest: PartialManifest, key: SigningKey): Uint8Array => seal('partial', partialManifestCodec, manifest, key);
export const openPartialManifest = (bytes: Uint8Array, workerKey: Uint8Array): OpenedAggregationMessage<PartialManifest__Output> => open(bytes, 'partial', partialManifestCodec, workerKey);
/** A partial manifest's envelope from `aggregationEnvelope`, verified against the worker's key and decoded. */
export const verifyPartialManifest = (env: SignedEnvelope__Output, workerKey: Uint8Array): OpenedAggregationMessage<PartialManifest__Output> => verified(env, 'partial', partialManifestCodec, workerKey);
