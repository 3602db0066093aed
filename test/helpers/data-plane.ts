import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsServer } from '@tributary/coordinator';
import { ensureStreams } from '../../coordinator/src/ingest/index.js';
import { LevelStateStore, type StateWrite } from '../../coordinator/src/state/index.js';
import { encodeEnvelope, formatPublicKey, signEnvelope, type EnvelopeKind, type SigningKey } from '@tributary/proto';
import { connect, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';

/** A nats-server with the data plane's streams and a state store in a temp dir: what an ingest runs on. */
export interface DataPlane {
  nats: NatsServer;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  dir: string;
  state: LevelStateStore;
  /** Drains the connection, closes the state store, stops nats-server and removes the dir. */
  stop(): Promise<void>;
}

export async function startDataPlane(dirPrefix: string): Promise<DataPlane> {
  const nats = await NatsServer.start();
  const nc = await connect({ servers: [nats.url] });
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  await ensureStreams(jsm);
  const dir = await mkdtemp(join(tmpdir(), dirPrefix));
  const state = new LevelStateStore(join(dir, 'state'));
  await state.open();
  return {
    nats,
    nc,
    js,
    jsm,
    dir,
    state,
    async stop() {
      await nc.drain();
      await state.close();
      await nats.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A site record for `key`, a member of `federations`. */
export function siteWrite(name: string, key: SigningKey, status: 'APPROVED' | 'REVOKED', federations: string[]): StateWrite {
  return {
    kind: 'site',
    value: { name, keyId: key.keyId, publicKey: formatPublicKey(key.publicKey), status, federations, createdAtMs: 1, revokedAtMs: status === 'REVOKED' ? 2 : 0 },
  };
}

/** An encoded envelope naming `key`, signed by `signer`: another key than `key` makes a forgery. */
export function signedEnvelope(kind: EnvelopeKind, body: Uint8Array, key: SigningKey, signer: SigningKey = key): Uint8Array {
  return encodeEnvelope({ ...signEnvelope(kind, body, signer), keyId: key.keyId });
}
