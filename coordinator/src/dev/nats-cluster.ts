import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Backoff, Reason, TributaryError, sleep } from '@tributary/proto';
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

  /**
   * Starts a killed node again on its port and storage, and waits (within `timeoutMs`) until
   * JetStream answers through it: the node rejoined the cluster and a meta leader is elected.
   */
  async revive(name: string, timeoutMs = 30_000): Promise<void> {
    const node = this.node(name);
    await this.startNode(node, timeoutMs);
    await waitForJetStream([`nats://127.0.0.1:${node.port}`], timeoutMs);
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

/** Pauses between readiness probes: short at first, a cluster usually elects in about a second. */
const READINESS_BACKOFF = { initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2 } as const;
/** Bound of one probe: a node without a meta leader answers 503 at once, or not at all. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Waits until JetStream answers through every node in `urls`: each node is up, routed to the
 * others, and the cluster has elected its meta leader (only the meta leader answers account info
 * in a cluster; until then the nodes answer 503, or nothing). Probes with backoff within
 * `timeoutMs`; on time out, the last answer says why.
 */
async function waitForJetStream(urls: string[], timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (const url of urls) {
    const backoff = new Backoff({ policy: READINESS_BACKOFF });
    for (;;) {
      const failure = await probeJetStream(url, Math.max(1, Math.min(PROBE_TIMEOUT_MS, until - Date.now())));
      if (failure === undefined) break;
      const delayMs = backoff.nextDelay() + 50;
      if (Date.now() + delayMs > until) throw TributaryError.of(Reason.NATS_UNAVAILABLE, `JetStream did not answer through ${url} within ${timeoutMs} ms: ${failure}`);
      await sleep(delayMs);
    }
  }
}

/** One account info request through the node at `url`: undefined when answered, else why not. */
async function probeJetStream(url: string, timeoutMs: number): Promise<string | undefined> {
  let nc: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    nc = await connect({ servers: [url], timeout: timeoutMs, reconnect: false });
    const jsm = await nc.jetstreamManager({ timeout: timeoutMs, checkAPI: false });
    await jsm.getAccountInfo();
    return undefined;
  } catch (err) {
    return TributaryError.from(err).message;
  } finally {
    await nc?.close().catch(() => undefined);
  }
}
