import { ErrorCode, NatsError, headers as natsHeaders } from 'nats';
import type { JetStreamClient, PubAck } from 'nats';
import { Reason, TributaryError, isTributaryError, retry } from '@tributary/proto';
import type { BackoffPolicy } from '@tributary/proto';
import { describeError } from './logging.js';
import type { SiteLogger } from './logging.js';

/** One JetStream message; `msgID` makes retries and resubmits idempotent (the stream dedupes). */
export interface DurableMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly msgID: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface PublishPolicy {
  readonly policy: BackoffPolicy;
  readonly maxAttempts: number;
  readonly signal?: AbortSignal;
  /** The round's deadline (epoch ms): a retry that would start after it is pointless. */
  readonly deadlineAtMs?: number;
  readonly logger: SiteLogger;
}

// Failures after which the same message may well get through: lost acks, a stream leader
// election (no responders), a connection being re-established.
const TRANSIENT_CODES: ReadonlySet<string> = new Set<string>([
  ErrorCode.Timeout,
  ErrorCode.NoResponders,
  ErrorCode.Disconnect,
  ErrorCode.ConnectionRefused,
  ErrorCode.ConnectionTimeout,
  ErrorCode.JetStream408RequestTimeout,
]);

/** True for NATS failures worth another attempt with the same msgID. */
export function isTransientNatsError(err: unknown): boolean {
  if (isTributaryError(err)) return err.retryable;
  return err instanceof NatsError && TRANSIENT_CODES.has(err.code);
}

/** A NATS failure as a TributaryError; `what` says which publish failed. */
export function natsFailure(err: unknown, what: string): TributaryError {
  if (isTributaryError(err)) return err;
  if (!(err instanceof NatsError)) {
    return TributaryError.from(err);
  }
  const api = err.jsError();
  if (api !== null) {
    return TributaryError.of(
      api.code === 503 ? Reason.UNAVAILABLE : Reason.FAILED_PRECONDITION,
      `${what}: JetStream refused it (${api.code}${api.err_code === undefined ? '' : `/${api.err_code}`}): ${api.description}`,
      { cause: err },
    );
  }
  switch (err.code) {
    case ErrorCode.NoResponders:
      return TributaryError.of(
        Reason.UNAVAILABLE,
        `${what}: no JetStream stream answered: the coordinator has not created the streams yet, or the stream has no leader (a NATS cluster electing one, or one that lost a majority of its nodes)`,
        { cause: err },
      );
    case ErrorCode.MaxPayloadExceeded:
      return TributaryError.of(
        Reason.PAYLOAD_TOO_LARGE,
        `${what}: message exceeds the NATS server's max_payload (lower chunkSize)`,
        { retryable: false, cause: err },
      );
    case ErrorCode.ConnectionClosed:
    case ErrorCode.ConnectionDraining:
      return TributaryError.of(Reason.UNAVAILABLE, `${what}: the NATS connection is closed`, { retryable: false, cause: err });
    case ErrorCode.PermissionsViolation:
    case ErrorCode.AuthorizationViolation:
      return TributaryError.of(Reason.PERMISSION_DENIED, `${what}: ${err.message}`, { cause: err });
    default: {
      const reason = TRANSIENT_CODES.has(err.code) ? Reason.UNAVAILABLE : Reason.UNKNOWN;
      return TributaryError.of(reason, `${what}: ${err.message}`, { cause: err });
    }
  }
}

/**
 * Publishes one message to JetStream and waits for its ack, retrying transient failures with
 * backoff and jitter under the same msgID. Failures are TributaryErrors.
 */
export async function publishDurably(
  js: JetStreamClient,
  msg: DurableMessage,
  policy: PublishPolicy,
): Promise<PubAck> {
  try {
    return await retry(
      () => {
        // A fresh header set per attempt: js.publish adds the msgID header to the one it is given.
        const h = natsHeaders();
        for (const [k, v] of Object.entries(msg.headers ?? {})) h.set(k, v);
        return js.publish(msg.subject, msg.data, { msgID: msg.msgID, headers: h });
      },
      {
        policy: policy.policy,
        maxAttempts: policy.maxAttempts,
        ...(policy.signal === undefined ? {} : { signal: policy.signal }),
        ...(policy.deadlineAtMs === undefined ? {} : { deadlineAtMs: policy.deadlineAtMs }),
        isRetryable: isTransientNatsError,
        onRetry: ({ error, attempt, delayMs }) =>
          policy.logger.warn(
            { subject: msg.subject, msgID: msg.msgID, attempt: attempt + 1, delayMs, err: describeError(natsFailure(error, 'JetStream publish')) },
            'NATS publish failed; retrying',
          ),
      },
    );
  } catch (err) {
    throw natsFailure(err, `publish to ${msg.subject} (msgID ${msg.msgID})`);
  }
}
