import { Backoff, DEFAULT_CHUNK_SIZE, Reason, STREAM_METRICS, STREAM_PAYLOADS, STREAM_UPDATES, TributaryError, sleep, subjects } from '@tributary/proto';
import { COORDINATOR_DEFAULTS, type StreamLimits } from '../config/coordinator-options.js';
import { AckPolicy, DeliverPolicy, NatsError, StorageType, nanos, type ConsumerMessages, type ConsumerUpdateConfig, type JetStreamManager, type JsMsg, type NatsConnection, type StreamConfig } from 'nats';
import type { Logger } from 'pino';

/** The coordinator's durable consumers: updates (manifests) and metric batches. */
export const UPDATE_CONSUMER = 'tributary-ingest';
export const METRIC_CONSUMER = 'tributary-metrics';

/**
 * When the stream stored a message (ms), never later than now: the time a site sent it, even
 * when it is delivered again after a restart.
 */
export function storedAtMs(m: JsMsg): number {
  return Math.min(Date.now(), Math.floor(m.info.timestampNanos / 1e6));
}

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
/** JetStream's API error code for "no suitable peers for placement" (too few servers for the replicas). */
const NO_SUITABLE_PEERS = 10005;

type DataPlaneStream = Pick<StreamConfig, 'name' | 'subjects' | 'storage'> &
  Partial<Pick<StreamConfig, 'duplicate_window' | 'max_msg_size' | 'max_age' | 'max_bytes' | 'num_replicas' | 'allow_direct'>>;

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
      ...replicas(limits),
    },
    {
      name: STREAM_PAYLOADS,
      subjects: [subjects.payloadWildcard],
      storage: StorageType.File,
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      max_msg_size: DEFAULT_CHUNK_SIZE + CHUNK_HEADER_ALLOWANCE,
      max_age: nanos(PAYLOADS_MAX_AGE_MS),
      max_bytes: limits.payloadsMaxBytes,
      ...replicas(limits),
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
      ...replicas(limits),
    },
  ];
}

/** The replicas asked for; without, JetStream's default (1) for a new stream and an existing one's own. */
function replicas(limits: StreamLimits): Pick<DataPlaneStream, 'num_replicas'> {
  return limits.replicas === undefined ? {} : { num_replicas: limits.replicas };
}

/**
 * Creates the data plane's streams, or brings an existing one's subjects, duplicate window,
 * message size limit, age limit, size limit and direct access back to what Tributary expects. Safe to call on
 * every start.
 */
export async function ensureStreams(jsm: JetStreamManager, limits: StreamLimits = COORDINATOR_DEFAULTS.streams): Promise<void> {
  await whileLeadersElected(() => ensureStreamsOnce(jsm, limits));
}

async function ensureStreamsOnce(jsm: JetStreamManager, limits: StreamLimits): Promise<void> {
  for (const wanted of dataPlaneStreams(await fittedLimits(jsm, limits))) {
    const existing = await streamConfig(jsm, wanted.name);
    if (existing === undefined) {
      await jsm.streams.add(wanted);
    } else if (differs(existing, wanted)) {
      // Storage cannot change in place: an operator's memory stream stays one.
      const { storage: _storage, ...settings } = { ...existing, ...wanted };
      await jsm.streams.update(wanted.name, settings);
    }
    // A single server takes an update to 3 replicas and keeps one copy: asked-for availability
    // that is not there must stop the start, not be found missing when a node fails.
    if (wanted.num_replicas !== undefined && wanted.num_replicas > 1) {
      const cluster = (await jsm.streams.info(wanted.name)).cluster;
      const peers = 1 + (cluster?.replicas?.length ?? 0);
      if (peers < wanted.num_replicas) {
        throw TributaryError.of(Reason.NATS_UNAVAILABLE, `stream ${wanted.name} has ${peers} replica(s) where ${wanted.num_replicas} were asked: the NATS servers must be a JetStream cluster of at least ${wanted.num_replicas}`, { code: 'FAILED_PRECONDITION', retryable: false });
      }
      // A stream just created has its peers before it has a leader: until then a publish to it
      // finds no responder. The coordinator is ready when its streams take messages.
      if (cluster?.leader === undefined || cluster.leader === '') throw new LeaderPending(wanted.name);
    }
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
  await whileLeadersElected(() => ensureDurableConsumerOnce(jsm, stream, name, tuning));
}

/** How long set-up waits for a JetStream cluster that has just started (or lost a node) to elect its leaders. */
const LEADER_ELECTION_WAIT_MS = 60_000;

/**
 * Runs a JetStream set-up step again while the servers answer 503 (no responders) or not at all
 * (a request timeout): a cluster answers so until its meta and stream leaders are elected,
 * seconds after a start or a node loss.
 */
async function whileLeadersElected(step: () => Promise<void>): Promise<void> {
  const until = Date.now() + LEADER_ELECTION_WAIT_MS;
  for (let wait = 250; ; wait = Math.min(wait * 2, 2_000)) {
    try {
      return await step();
    } catch (err) {
      if (!isElectionPending(err)) throw err;
      if (Date.now() + wait > until) {
        if (err instanceof LeaderPending) throw TributaryError.of(Reason.NATS_UNAVAILABLE, `${err.message} after ${LEADER_ELECTION_WAIT_MS / 1000} s: is a majority of the cluster's nodes up?`);
        if (err instanceof NatsError && err.api_error?.err_code === NO_SUITABLE_PEERS) {
          throw TributaryError.of(Reason.NATS_UNAVAILABLE, `${err.message} after ${LEADER_ELECTION_WAIT_MS / 1000} s: fewer JetStream servers are up and joined to the cluster than the replicas asked for`, { cause: err });
        }
        throw err;
      }
      await sleep(wait);
    }
  }
}

/** A replicated stream without an elected leader yet. */
class LeaderPending extends Error {
  constructor(stream: string) {
    super(`stream ${stream} has no leader yet`);
  }
}

/**
 * True while a cluster is still forming or electing: 503 (no responders), no answer at all, a
 * stream without a leader, or no peers to place a stream's replicas on (the meta leader is elected
 * but has not yet heard of every node).
 */
function isElectionPending(err: unknown): boolean {
  return err instanceof LeaderPending || (err instanceof NatsError && (err.code === '503' || err.code === 'TIMEOUT' || err.api_error?.err_code === NO_SUITABLE_PEERS));
}

async function ensureDurableConsumerOnce(jsm: JetStreamManager, stream: string, name: string, tuning: ConsumerUpdateConfig): Promise<void> {
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

/** How a supervised consumer is bound and drained. */
export interface SupervisedConsumerOptions {
  nc: NatsConnection;
  stream: string;
  /** The durable consumer's name. */
  name: string;
  tuning: ConsumerUpdateConfig;
  /** Pull window: nats.js takes `max_messages` or `max_bytes`, never both. */
  pull: { max_messages: number } | { max_bytes: number };
  /** Creates the streams again before binding anew (a NATS server that lost its storage). */
  setUp: () => Promise<void>;
  /** Processes messages until the iterator ends; may throw. */
  drain: (messages: ConsumerMessages) => Promise<void>;
  logger: Logger;
}

/** Life of one pull request of a supervised consumer. */
const PULL_EXPIRES_MS = 5_000;
/** Pause between attempts to bind a lost consumer again. */
const REBIND_BACKOFF = { initialDelayMs: 250, maxDelayMs: 15_000, multiplier: 2 } as const;

/**
 * A durable pull consumer that outlives NATS faults: nats.js ends a `consume()` iterator for
 * good when, after a reconnect, the consumer or its stream is gone (a server restarted without
 * its storage, a stream deleted by hand). Then this creates the streams and the consumer again
 * and pulls anew, with backoff, until `stop()`; nothing is thrown at the process.
 */
export class SupervisedConsumer {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private readonly stopping = new AbortController();

  constructor(private readonly opts: SupervisedConsumerOptions) {}

  /** Binds the consumer and starts draining; the first bind's failure is thrown. */
  async start(): Promise<void> {
    const messages = await this.bind();
    this.loop = this.supervise(messages);
  }

  /** Stops pulling and waits for the drain to finish what it holds. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.messages?.stop();
    await this.loop;
  }

  private async bind(): Promise<ConsumerMessages> {
    const jsm = await this.opts.nc.jetstreamManager();
    await ensureDurableConsumer(jsm, this.opts.stream, this.opts.name, this.opts.tuning);
    const consumer = await this.opts.nc.jetstream().consumers.get(this.opts.stream, this.opts.name);
    // Without abort_on_missing_resource nats.js would look for a lost consumer forever, and
    // nobody would create it again. Short pulls (heartbeats every 2.5 s) notice a pull lost
    // with a cluster node within seconds, rather than after nats.js's default 30 s.
    const messages = await consumer.consume({ ...this.opts.pull, expires: PULL_EXPIRES_MS, abort_on_missing_resource: true });
    this.messages = messages;
    // stop() may have come while binding.
    if (this.stopping.signal.aborted) messages.stop();
    return messages;
  }

  private async supervise(first: ConsumerMessages): Promise<void> {
    const log = this.opts.logger;
    const backoff = new Backoff({ policy: REBIND_BACKOFF });
    for (let messages = first; ; ) {
      try {
        await this.opts.drain(messages);
      } catch (err) {
        log.warn({ err, consumer: this.opts.name }, 'consumer stopped delivering');
      }
      if (this.stopping.signal.aborted) return;
      log.warn({ consumer: this.opts.name, stream: this.opts.stream }, 'consumer lost; binding it again');
      for (;;) {
        try {
          await sleep(backoff.nextDelay(), this.stopping.signal);
          await this.opts.setUp();
          messages = await this.bind();
          backoff.reset();
          log.info({ consumer: this.opts.name }, 'consumer bound again');
          break;
        } catch (err) {
          if (this.stopping.signal.aborted) return;
          log.warn({ err: err instanceof Error ? err.message : String(err), consumer: this.opts.name }, 'cannot bind the consumer yet; retrying');
        }
      }
    }
  }
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
  return { ...limits, updatesMaxBytes: share(limits.updatesMaxBytes), payloadsMaxBytes: share(limits.payloadsMaxBytes), metricsMaxBytes: share(limits.metricsMaxBytes) };
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
    (wanted.num_replicas !== undefined && existing.num_replicas !== wanted.num_replicas) ||
    (wanted.allow_direct !== undefined && existing.allow_direct !== wanted.allow_direct)
  );
}
