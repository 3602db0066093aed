import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { freePort, waitForPort } from '../../coordinator/src/dev/nats-server.js';

/** One nats-server of a cluster. */
interface ClusterNode {
  readonly name: string;
  readonly port: number;
  readonly config: string;
  child: ChildProcess | undefined;
}

/** A JetStream cluster of nats-server processes on loopback, for failover tests. */
export interface NatsCluster {
  /** Client URLs of every node, in node order. */
  readonly urls: string[];
  /** Server names (`n1`, `n2`, ...), in node order. */
  readonly names: string[];
  /** SIGKILL of one node by server name. */
  kill(name: string): Promise<void>;
  /** Starts a killed node again on its port and storage. */
  revive(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-cluster-'));
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < size; i++) {
    const name = `n${i + 1}`;
    const store = join(dir, name);
    await mkdir(store, { recursive: true });
    const routes = routePorts.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p}`);
    const config = join(dir, `${name}.conf`);
    await writeFile(
      config,
      [
        `server_name: ${name}`,
        'host: 127.0.0.1',
        `port: ${ports[i]}`,
        `jetstream { store_dir: ${JSON.stringify(store)} }`,
        `cluster { name: tributary, host: 127.0.0.1, port: ${routePorts[i]}, routes: [${routes.join(', ')}] }`,
      ].join('\n') + '\n',
    );
    nodes.push({ name, port: ports[i] as number, config, child: undefined });
  }
  const start = async (node: ClusterNode): Promise<void> => {
    node.child = spawn('nats-server', ['-c', node.config], { stdio: 'ignore' });
    await waitForPort(node.port, 10_000, node.child);
  };
  await Promise.all(nodes.map(start));
  const urls = nodes.map((n) => `nats://127.0.0.1:${n.port}`);
  await waitForJetStream(urls);
  const byName = (name: string): ClusterNode => {
    const node = nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  };
  const kill = async (node: ClusterNode): Promise<void> => {
    const child = node.child;
    node.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  };
  return {
    urls,
    names: nodes.map((n) => n.name),
    kill: (name) => kill(byName(name)),
    revive: (name) => start(byName(name)),
    async stop() {
      await Promise.all(nodes.map(kill));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the cluster has a JetStream meta leader (it answers account info). */
async function waitForJetStream(urls: string[]): Promise<void> {
  const nc = await connect({ servers: urls });
  try {
    const until = Date.now() + 30_000;
    for (;;) {
      try {
        await (await nc.jetstreamManager()).getAccountInfo();
        return;
      } catch (err) {
        if (Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await nc.close();
  }
}
