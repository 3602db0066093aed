import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsCluster as NatsClusterLauncher } from '../../coordinator/src/dev/nats-cluster.js';

/** A JetStream cluster of nats-server processes on loopback, for failover tests (the dev command's launcher, in a temp dir). */
export interface NatsCluster {
  /** Client URLs of every node, in node order. */
  readonly urls: string[];
  /** Server names (`n1`, `n2`, ...), in node order. */
  readonly names: string[];
  /** SIGKILL of one node by server name. */
  kill(name: string): Promise<void>;
  /** Starts a killed node again on its port and storage. */
  revive(name: string): Promise<void>;
  /** Stops every node and removes the temp dir. */
  stop(): Promise<void>;
}

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-cluster-'));
  const cluster = await NatsClusterLauncher.start({ dir, size });
  return {
    urls: cluster.urls,
    names: cluster.names,
    kill: (name) => cluster.kill(name),
    revive: (name) => cluster.revive(name),
    async stop() {
      // Killed, not stopped: storage is thrown away with the dir.
      for (const name of cluster.names) await cluster.kill(name);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
