import type { JetStreamClient, NatsConnection } from 'nats';
import type { RpcClient, SigningKey } from '@tributary/proto';
import type { CompiledSiteClientOptions } from './options.js';
import type { SiteLogger } from './logging.js';
import type { NatsCredentialLease } from './nats-credentials.js';
import type { SiteNatsConnection } from './nats-connection.js';

/** What a connected site holds: its identity, both connections and its options. */
export interface SiteSession {
  readonly site: string;
  readonly key: SigningKey;
  /**
   * The coordinator's raw Ed25519 public key (pinned, or learnt from WhoAmI): only verdicts it
   * signed are believed. Undefined when the coordinator named none: NATS verdicts are then
   * ignored and the status is polled.
   */
  readonly coordinatorKey: Uint8Array | undefined;
  readonly options: CompiledSiteClientOptions;
  readonly logger: SiteLogger;
  readonly rpc: RpcClient;
  /** The NATS connection, which follows the URLs the coordinator advertises; `nc` and `js` are its current ones. */
  readonly nats: SiteNatsConnection;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  /** The site's own NATS user, when the coordinator issues them (renewed in the background). */
  readonly natsCredentials?: NatsCredentialLease;
}
