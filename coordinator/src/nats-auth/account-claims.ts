import type { Account, OperatorLimits } from '@nats-io/jwt';

/** `-1` in NATS limits: no limit. */
export const NO_LIMIT = -1;

/** JetStream limits of the Tributary account; `-1` is unlimited. */
export interface AccountJetStreamLimits {
  /** Bytes of file storage over all streams. @default -1 */
  readonly diskBytes: number;
  /** Bytes of memory storage over all streams. @default -1 */
  readonly memoryBytes: number;
  /** @default -1 */
  readonly streams: number;
  /** @default -1 */
  readonly consumers: number;
}

export const DEFAULT_JETSTREAM_LIMITS: AccountJetStreamLimits = { diskBytes: NO_LIMIT, memoryBytes: NO_LIMIT, streams: NO_LIMIT, consumers: NO_LIMIT };

/**
 * Core NATS limits of both accounts, all explicit: a limit missing from an account JWT reads as
 * 0 on the server, which would forbid everything.
 */
const CORE_LIMITS: OperatorLimits = {
  subs: NO_LIMIT,
  data: NO_LIMIT,
  payload: NO_LIMIT,
  imports: NO_LIMIT,
  exports: NO_LIMIT,
  wildcards: true,
  conn: NO_LIMIT,
  leaf: NO_LIMIT,
};

/** The system account: core NATS only (the server's own JetStream use needs no limits here). */
export function systemAccountClaims(): Partial<Account> {
  return { limits: { ...CORE_LIMITS } };
}

/**
 * The Tributary account: JetStream on (any non-zero storage limit enables it), and the account
 * signing key that issues every user, so the account identity key itself never needs to be online.
 */
export function tributaryAccountClaims(opts: { signingKey: string; jetstream: AccountJetStreamLimits }): Partial<Account> {
  const js = opts.jetstream;
  return {
    limits: {
      ...CORE_LIMITS,
      disk_storage: js.diskBytes,
      mem_storage: js.memoryBytes,
      streams: js.streams,
      consumer: js.consumers,
      max_ack_pending: NO_LIMIT,
    },
    signing_keys: [opts.signingKey],
  };
}

/** Checks JetStream limits: whole numbers, -1 for unlimited, and storage enabled somewhere. */
export function jetStreamLimitsProblem(limits: AccountJetStreamLimits): string | undefined {
  for (const [name, v] of Object.entries(limits)) {
    if (!Number.isSafeInteger(v) || v < NO_LIMIT) return `${name} must be a whole number, or -1 for unlimited`;
  }
  if (limits.diskBytes === 0 && limits.memoryBytes === 0) return 'diskBytes and memoryBytes are both 0: JetStream would be off';
  return undefined;
}
