import { DEFAULT_CHUNK_SIZE, STREAM_METRICS, STREAM_PAYLOADS, STREAM_UPDATES, subjects } from '@tributary/proto';
import { COORDINATOR_DEFAULTS, type StreamLimits } from '../config/coordinator-options.js';
import { AckPolicy, DeliverPolicy, NatsError, StorageType, nanos, type ConsumerMessages, type ConsumerUpdateConfig, type JetStreamManager, type StreamConfig } from 'nats';

/** The coordinator's durable consumers: updates (manifests) and metric batches. */
export const UPDATE_CONSUMER = 'tributary-ingest';
export const METRIC_CONSUMER = 'tributary-metrics';

/** Resubmits within this window are dropped by JetStream (`Nats-Msg-Id` = update id, chunk id). */
const DUPLICATE_WINDOW_MS = 10 * 60_000;

/**
 * How long messages stay. Manifests and metric batches are processed within seconds and kept a
 * week for inspection; chunks are purged once their update is decided, so only abandoned
 * uploads (a manifest that never came) ever reach their age limit.
 */
const UPDATES_MAX_AGE_MS = 7 * 24 * 3600_000;
const PAYLOADS_MAX_AGE_MS = 24 * 3600_000;
const METRICS_MAX_AGE_MS = 7 * 24 * 3600_000;

/** Room left in a payload message for its headers (`Nats-Msg-Id`, `Trib-Chunk`). */
const CHUNK_HEADER_ALLOWANCE = 4096;

/** JetStream's API error codes for "stream not found" and "consumer not found". */
const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;

type DataPlaneStream = Pick<StreamConfig, 'name' | 'subjects' | 'storage'> &
  Partial<Pick<StreamConfig, 'duplicate_window' | 'max_msg_size' | 'max_age' | 'max_bytes' | 'allow_direct'>>;

/** The data plane's three streams. */
function dataPlaneStreams(limits: StreamLimits): DataPlaneStream[] {
  return [
    {
      name: STREAM_UPDATES,
      subjects: [subjects.updateWildcard],
      storage: StorageType.File,
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      max_age: nanos(UPDATES_MAX_AGE_MS),
      max_bytes: limits.updatesMaxBytes,
    },
    {
      name: STREAM_PAYLOADS,
      subjects: [subjects.payloadWildcard],
      storage: StorageType.File,
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      max_msg_size: DEFAULT_CHUNK_SIZE + CHUNK_HEADER_ALLOWANCE,
      max_age: nanos(PAYLOADS_MAX_AGE_MS),
      max_bytes: limits.payloadsMaxBytes,
      // The payload reader fetches stored chunks by subject without creating a consumer. Only the
      // coordinator's NATS user may call the JetStream API, direct gets included.
      allow_direct: true,
    },
    {
      name: STREAM_METRICS,
      subjects: [subjects.metricsWildcard],
      storage: StorageType.File,
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      max_age: nanos(METRICS_MAX_AGE_MS),
      max_bytes: limits.metricsMaxBytes,
    },
  ];
}

/**
 * Creates the data plane's streams, or brings an existing one's subjects, duplicate window,
 * message size limit, age limit, size limit and direct access back to what Tributary expects. Safe to call on
 * every start.
 */
export async function ensureStreams(jsm: JetStreamManager, limits: StreamLimits = COORDINATOR_DEFAULTS.streams): Promise<void> {
  for (const wanted of dataPlaneStreams(await fittedLimits(jsm, limits))) {
    const existing = await streamConfig(jsm, wanted.name);
    if (existing === undefined) {
      await jsm.streams.add(wanted);
      continue;
    }
    if (!differs(existing, wanted)) continue;
    // Storage cannot change in place: an operator's memory stream stays one.
    const { storage: _storage, ...settings } = { ...existing, ...wanted };
    await jsm.streams.update(wanted.name, settings);
  }
}

/**
 * Creates the durable consumer `name` on `stream` (explicit acks, from the stream's first message),
 * or brings an existing one's `tuning` back to what is asked. Safe to call on every start.
 */
export async function ensureDurableConsumer(
  jsm: JetStreamManager,
  stream: string,
  name: string,
  tuning: ConsumerUpdateConfig,
): Promise<void> {
  try {
    await jsm.consumers.info(stream, name);
    await jsm.consumers.update(stream, name, tuning);
  } catch (err) {
    if (!(err instanceof NatsError && err.api_error?.err_code === CONSUMER_NOT_FOUND)) throw err;
    await jsm.consumers.add(stream, {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ...tuning,
    });
  }
}

/** A consumer's pulled messages and the loop draining them. */
export interface Consuming {
  readonly messages: ConsumerMessages;
  readonly loop: Promise<void>;
}

/** Stops pulling and waits for the loop to finish what it holds. */
export async function stopConsuming({ messages, loop }: Consuming): Promise<void> {
  messages.stop();
  await loop;
}

/**
 * The limits, scaled down in proportion when the account's JetStream storage is smaller than
 * their sum: a file stream reserves its `max_bytes` there, and the server refuses a stream that
 * does not fit.
 */
async function fittedLimits(jsm: JetStreamManager, limits: StreamLimits): Promise<StreamLimits> {
  const storage = (await jsm.getAccountInfo()).limits.max_storage;
  const total = limits.updatesMaxBytes + limits.payloadsMaxBytes + limits.metricsMaxBytes;
  if (!(storage > 0) || total <= storage) return limits;
  const share = (bytes: number): number => Math.max(1, Math.floor((bytes * storage) / total));
  return { updatesMaxBytes: share(limits.updatesMaxBytes), payloadsMaxBytes: share(limits.payloadsMaxBytes), metricsMaxBytes: share(limits.metricsMaxBytes) };
}

async function streamConfig(jsm: JetStreamManager, name: string): Promise<StreamConfig | undefined> {
  try {
    return (await jsm.streams.info(name)).config;
  } catch (err) {
    if (err instanceof NatsError && err.api_error?.err_code === STREAM_NOT_FOUND) return undefined;
    throw err;
  }
}

function differs(existing: StreamConfig, wanted: DataPlaneStream): boolean {
  const sameSubjects =
    existing.subjects.length === wanted.subjects.length && wanted.subjects.every((s) => existing.subjects.includes(s));
  return (
    !sameSubjects ||
    (wanted.duplicate_window !== undefined && existing.duplicate_window !== wanted.duplicate_window) ||
    (wanted.max_msg_size !== undefined && existing.max_msg_size !== wanted.max_msg_size) ||
    (wanted.max_age !== undefined && existing.max_age !== wanted.max_age) ||
    (wanted.max_bytes !== undefined && existing.max_bytes !== wanted.max_bytes) ||
    (wanted.allow_direct !== undefined && existing.allow_direct !== wanted.allow_direct)
  );
}
