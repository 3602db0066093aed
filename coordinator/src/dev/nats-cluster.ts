import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Reason, TributaryError } from '@tributary/proto';
import { connect } from 'nats';
import { NATS_SERVER_INSTALL_HINT, NatsServer, freePort, waitForPort } from './nats-server.js';

export interface NatsClusterOptions {
  /** Holds each node's config, pid file (`<name>.pid`) and JetStream storage (`<name>/`); kept on stop. */
  dir: string;
  /** Nodes. @default 3 */
  size?: number;
  /** Client ports, one a node (0 or missing entries: a free port). */
  ports?: readonly number[];
  /** Cluster route ports, one a node (0 or missing entries: a free port). */
  routePorts?: readonly number[];
  /** Largest message payload in bytes. @default 1048576 */
  maxPayload?: number;
  /** Milliseconds to wait for the nodes and a JetStream meta leader. @default 30000 */
  startTimeoutMs?: number;
}

/** One nats-server of a cluster. */
interface ClusterNode {
  readonly name: string;
  readonly port: number;
  readonly config: string;
  child: ChildProcess | undefined;
}

/**
 * A JetStream cluster of nats-server processes on loopback (`n1`, `n2`, ...), without client
 * authentication: what `tributary dev --cluster 3` runs, and what failover tests kill nodes of.
 */
export class NatsCluster {
  private constructor(
    private readonly nodes: ClusterNode[],
    /** Route ports, in node order (kept by `dev --dir` across restarts). */
    readonly routePorts: readonly number[],
  ) {}

  static async start(options: NatsClusterOptions): Promise<NatsCluster> {
    if (!NatsServer.available()) throw TributaryError.of(Reason.NATS_SERVER_MISSING, NATS_SERVER_INSTALL_HINT);
    const size = options.size ?? 3;
    const portOr = async (given: number | undefined): Promise<number> => (given === undefined || given === 0 ? freePort() : given);
    const ports: number[] = [];
    const routePorts: number[] = [];
    for (let i = 0; i < size; i++) {
      ports.push(await portOr(options.ports?.[i]));
      routePorts.push(await portOr(options.routePorts?.[i]));
    }
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    const nodes: ClusterNode[] = [];
    for (let i = 0; i < size; i++) {
      const name = `n${i + 1}`;
      const store = join(options.dir, name);
      await mkdir(store, { recursive: true });
      const routes = routePorts.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p}`);
      const config = join(options.dir, `${name}.conf`);
      await writeFile(
        config,
        [
          `server_name: ${name}`,
          'host: 127.0.0.1',
          `port: ${ports[i]}`,
          `max_payload: ${options.maxPayload ?? 1048576}`,
          `pid_file: ${JSON.stringify(join(options.dir, `${name}.pid`))}`,
          `jetstream { store_dir: ${JSON.stringify(store)} }`,
          `cluster { name: tributary, host: 127.0.0.1, port: ${routePorts[i]}, routes: [${routes.join(', ')}] }`,
        ].join('\n') + '\n',
      );
      nodes.push({ name, port: ports[i] as number, config, child: undefined });
    }
    const cluster = new NatsCluster(nodes, routePorts);
    const timeoutMs = options.startTimeoutMs ?? 30_000;
    try {
      await Promise.all(nodes.map((n) => cluster.startNode(n, timeoutMs)));
      await waitForJetStream(cluster.urls, timeoutMs);
    } catch (err) {
      await cluster.stop();
      throw TributaryError.of(Reason.NATS_SERVER_START_FAILED, `the ${size}-node nats-server cluster did not start: ${TributaryError.from(err).message}`, { cause: err });
    }
    return cluster;
  }

  /** Client URLs of every node, in node order. */
  get urls(): string[] {
    return this.nodes.map((n) => `nats://127.0.0.1:${n.port}`);
  }

  /** Client ports, in node order. */
  get ports(): number[] {
    return this.nodes.map((n) => n.port);
  }

  /** Server names (`n1`, `n2`, ...), in node order. */
  get names(): string[] {
    return this.nodes.map((n) => n.name);
  }

  /** SIGKILL of one node by server name. */
  async kill(name: string): Promise<void> {
    await stopNode(this.node(name), 'SIGKILL');
  }

  /** Starts a killed node again on its port and storage. */
  async revive(name: string): Promise<void> {
    await this.startNode(this.node(name), 10_000);
  }

  /** Stops every node (SIGTERM, SIGKILL after 5 s); their storage stays in the directory. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => stopNode(n, 'SIGTERM')));
  }

  private node(name: string): ClusterNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw TributaryError.invalidArgument(`no node ${JSON.stringify(name)} in the cluster`);
    return node;
  }

  private async startNode(node: ClusterNode, timeoutMs: number): Promise<void> {
    node.child = spawn('nats-server', ['-c', node.config], { stdio: 'ignore' });
    await waitForPort(node.port, timeoutMs, node.child);
  }
}

async function stopNode(node: ClusterNode, signal: NodeJS.Signals): Promise<void> {
  const child = node.child;
  node.child = undefined;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Waits until the cluster has a JetStream meta leader (it answers account info). */
async function waitForJetStream(urls: string[], timeoutMs: number): Promise<void> {
  const nc = await connect({ servers: urls });
  try {
    const until = Date.now() + timeoutMs;
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
