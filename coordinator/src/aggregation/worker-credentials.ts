import { AGGREGATOR_GROUP, AGGREGATOR_QUEUE, Reason, TributaryError, aggregationSubjects, type AggregationCredentials__Output } from '@tributary/proto';
import type { Logger } from 'pino';
import type { AccountUpdate, NatsAuthority } from '../nats-auth/authority.js';

export interface WorkerCredentialsOptions {
  /** Mints and revokes the NATS users; absent when NATS authentication is managed elsewhere (the worker brings its own). */
  authority?: Pick<NatsAuthority, 'issueAggregatorCredentials' | 'revokeAggregator'>;
  ttlMs: number;
  /** NATS URLs told to workers. */
  natsUrls: readonly string[];
  /** Jobs and partial requests are signed with it. */
  coordinatorPublicKey: Uint8Array;
  logger: Logger;
}

/**
 * What a principal in the group "aggregators" gets from JoinAggregation: its NATS user and where
 * it works. Every user issued is recorded, so disabling the principal revokes them all at once.
 */
export class WorkerCredentials {
  constructor(private readonly opts: WorkerCredentialsOptions) {}

  async issue(principal: { name: string; groups: readonly string[] }, req: { userPublicKey: string; ttlSeconds: number }): Promise<AggregationCredentials__Output> {
    if (!principal.groups.includes(AGGREGATOR_GROUP)) {
      throw TributaryError.of(Reason.NOT_AN_AGGREGATOR, `principal "${principal.name}" is not an aggregation worker: add it to the group "${AGGREGATOR_GROUP}"`);
    }
    const ttlMs = req.ttlSeconds === 0 ? this.opts.ttlMs : req.ttlSeconds * 1000;
    const issued =
      this.opts.authority === undefined
        ? { jwt: '', inboxPrefix: '', expiresAtMs: 0 }
        : await this.opts.authority.issueAggregatorCredentials({ worker: principal.name, userPublicKey: req.userPublicKey, ttlMs });
    this.opts.logger.info({ worker: principal.name, expiresAtMs: issued.expiresAtMs }, 'aggregation worker joined');
    return {
      jwt: issued.jwt,
      expiresAtMs: issued.expiresAtMs,
      inboxPrefix: issued.inboxPrefix,
      worker: principal.name,
      coordinatorPublicKey: Buffer.from(this.opts.coordinatorPublicKey),
      jobSubject: aggregationSubjects.job,
      queueGroup: AGGREGATOR_QUEUE,
      collectSubject: aggregationSubjects.collect(principal.name),
      natsUrls: [...this.opts.natsUrls],
    };
  }

  /**
   * Revokes every unexpired NATS user issued to the principal `name` (disabled, or its key
   * replaced): the servers close its connections. Nothing to do for a principal that never joined.
   */
  async revoke(name: string): Promise<AccountUpdate | undefined> {
    if (this.opts.authority === undefined) return undefined;
    const update = await this.opts.authority.revokeAggregator(name);
    if (update.revoked.length > 0) this.opts.logger.warn({ worker: name, users: update.revoked.length, pushedTo: update.pushed?.server }, 'aggregation worker NATS users revoked');
    return update;
  }
}
