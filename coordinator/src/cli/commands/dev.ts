import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateSigningKey, readKeyFile, Reason, TributaryError, writeKeyFile } from '@tributary/proto';
import { parseByteSize, parseHostPort, parseInteger } from '../../config/values.js';
import { defineCommand, Running } from '../command.js';
import { optFlag, optInteger, optString } from '../input.js';
import { fields } from '../render.js';
import { untilAborted } from '../signals.js';

export interface DevResult {
  /** The coordinator's gRPC address. */
  readonly coordinator: string;
  /** A NATS URL for clients (with --cluster, the first node's: clients learn the others from it). */
  readonly nats: string;
  /** With --cluster: every node's client URL, in node order. */
  readonly natsCluster?: readonly string[];
  /** Admin key file, created on first use. */
  readonly keyFile: string;
  readonly keyId: string;
  /** Key id of the coordinator's own key (`data/coordinator.key`), which signs verdicts; sites may pin it. */
  readonly coordinatorKeyId: string;
  /** Holds admin.key, nats/ (JetStream; with --cluster, each node's config, pid file and storage), nats-authority/ and data/ (coordinator state). */
  readonly dir: string;
  /**
   * nats-server runs in operator mode and sites get their own NATS users from the coordinator
   * (the authority directory); absent with --no-nats-auth.
   */
  readonly natsAuthority?: string;
  /** Port of the web dashboard (`tributary dashboard` prints a login URL). */
  readonly dashboardPort: number;
  /** The directory is removed on exit (no --dir given). */
  readonly temporary: boolean;
  /** `<dir>/env`: the exports as a shell script, to `. <dir>/env` in another shell. */
  readonly envFile: string;
  /** With --tls: the local CA that signed the coordinator's and nats-server's certificates (`<dir>/tls/ca.pem`). */
  readonly tlsCa?: string;
  /** Environment for admin commands and sites in other shells. */
  readonly exports: Readonly<Record<string, string>>;
}

export default defineCommand({
  path: ['dev'],
  summary: 'Run a local nats-server (JetStream) and a coordinator, with an admin key, for trying things out',
  handlesInterrupt: true,
  options(cmd) {
    cmd
      .option('--dir <dir>', 'keep state in this directory (default: a temp dir removed on exit)')
      .option('--grpc-listen <host:port>', 'coordinator gRPC address (env TRIBUTARY_GRPC_LISTEN; default: the one kept in --dir, else 127.0.0.1:7400)')
      .option('--nats-port <port>', 'nats-server port, 0 for a free one (env TRIBUTARY_NATS_PORT; default: the one kept in --dir, else a free one)')
      .option('--http-port <port>', 'web dashboard port (default: a free port; `tributary dashboard` finds it)')
      .option('--max-update-bytes <size>', 'largest accepted update payload and initial model, e.g. 4GiB (default 1GiB)')
      .option('--tls', 'serve gRPC and NATS over TLS, with a local CA and certificates made in <dir>/tls (kept with --dir)')
      .option('--no-nats-auth', 'run nats-server without authentication instead of in operator mode with per-site credentials')
      .option('--cluster <nodes>', 'run a local cluster of 3 (to 5) nats-server nodes with JetStream, and streams with that many replicas (implies --no-nats-auth; not with --tls)')
      .option('--aggregation-workers', 'offer FedAvg updates to aggregation workers (`tributary aggregator`), as `serve --aggregation-workers` does')
      .option('--stop-on-stdin-close', 'also stop when standard input closes, e.g. when the program that started dev as a child exits');
  },
  parse(raw) {
    const dir = optString(raw, 'dir');
    return {
      dir,
      grpcListen: optHostPort(optString(raw, 'grpcListen')),
      natsPort: optInteger(raw, 'natsPort', '--nats-port', 0, 65535),
      httpPort: optInteger(raw, 'httpPort', '--http-port', 0, 65535) ?? 0,
      // Commander sets natsAuth to false for --no-nats-auth.
      natsAuth: raw.opts['natsAuth'] !== false,
      stopOnStdinClose: optFlag(raw, 'stopOnStdinClose'),
      tls: optFlag(raw, 'tls'),
      cluster: optInteger(raw, 'cluster', '--cluster', 3, 5),
      maxUpdateBytes: optionalByteSize(optString(raw, 'maxUpdateBytes')),
      aggregationWorkers: optFlag(raw, 'aggregationWorkers'),
    };
  },
  async run(input, ctx) {
    // Loaded on demand: admin commands start faster without the server's modules.
    const [{ Coordinator }, { NATS_SERVER_INSTALL_HINT, NatsServer }, { NatsCluster }, { createConsoleLogger }, { createNatsAuthority }, { createLocalCa, hasLocalCa, localCaFiles }] = await Promise.all([
      import('../../coordinator.js'),
      import('../../dev/nats-server.js'),
      import('../../dev/nats-cluster.js'),
      import('../../observability/logger.js'),
      import('../../nats-auth/authority-setup.js'),
      import('../../identity/local-ca.js'),
    ]);
    if (!NatsServer.available()) {
      throw TributaryError.of(Reason.NATS_SERVER_MISSING, NATS_SERVER_INSTALL_HINT);
    }
    if (input.cluster !== undefined && input.tls) {
      throw TributaryError.invalidArgument('--cluster does not go with --tls: the local cluster runs on loopback without TLS');
    }
    const temporary = input.dir === undefined;
    const dir = input.dir === undefined ? await mkdtemp(join(tmpdir(), 'tributary-dev-')) : resolve(ctx.cwd, input.dir);
    const cleanup: (() => Promise<unknown>)[] = temporary ? [() => rm(dir, { recursive: true, force: true })] : [];
    const stop = async (): Promise<void> => {
      for (const step of cleanup.splice(0)) await step().catch(() => undefined);
    };
    // A parent that dies without stopping its child still closes the child's stdin.
    const stopped = input.stopOnStdinClose ? AbortSignal.any([ctx.signal, stdinClosed()]) : ctx.signal;
    try {
      await mkdir(dir, { recursive: true });
      const keyFile = join(dir, 'admin.key');
      if (!(await exists(keyFile))) await writeKeyFile(keyFile, generateSigningKey('admin'));
      const key = await readKeyFile(keyFile);
      // The authority is made once and kept with the directory, like the admin key.
      // The local cluster runs without NATS authentication (its nodes would each need the resolver).
      const natsAuthority = input.natsAuth && input.cluster === undefined ? join(dir, 'nats-authority') : undefined;
      if (natsAuthority !== undefined && !(await exists(join(natsAuthority, 'authority.json')))) await createNatsAuthority({ dir: natsAuthority });
      // Made once and kept with the directory, so clients keep trusting the same CA.
      const tlsDir = join(dir, 'tls');
      const tls = !input.tls ? undefined : (await hasLocalCa(tlsDir)) ? localCaFiles(tlsDir) : await createLocalCa({ dir: tlsDir });
      // Addresses are kept with the directory, so a restarted stack is where its sites and
      // shells left it: flags > environment > the kept ones > defaults.
      const kept = await readDevAddresses(join(dir, ADDRESSES_FILE));
      const envPort = ctx.env['TRIBUTARY_NATS_PORT'];
      const natsPort = input.natsPort ?? (envPort === undefined ? undefined : parseInteger(envPort, { name: 'nats port', from: 'TRIBUTARY_NATS_PORT' }, 0, 65535)) ?? kept.natsPort;
      const envListen = ctx.env['TRIBUTARY_GRPC_LISTEN'];
      const grpcListen = input.grpcListen ?? (envListen === undefined ? undefined : parseHostPort(envListen, { name: 'grpc listen address', from: 'TRIBUTARY_GRPC_LISTEN' }, { allowPortZero: true })) ?? kept.grpcListen;
      if (natsPort !== undefined && natsPort !== 0 && natsPort === kept.natsPort && !(await portIsFree(natsPort))) {
        throw TributaryError.of(Reason.LISTEN_FAILED, `the NATS port ${natsPort} this directory used before is taken by another process`, {
          details: { hint: 'Stop what holds it, or pass --nats-port 0 to pick a free port (sites then need the new TRIBUTARY_NATS).' },
        });
      }
      let nats: { url: string; port: number; urls: string[]; ports: number[]; routePorts?: readonly number[] };
      if (input.cluster === undefined) {
        const server = await NatsServer.start({
          storeDir: join(dir, 'nats'),
          ...(tls === undefined ? {} : { tls: { certFile: tls.natsCertFile, keyFile: tls.natsKeyFile } }),
          ...(natsPort === undefined || natsPort === 0 ? {} : { port: natsPort }),
          ...(natsAuthority === undefined ? {} : { operator: { authorityDir: natsAuthority } }),
        });
        cleanup.unshift(() => server.stop());
        nats = { url: server.url, port: server.port, urls: [server.url], ports: [server.port] };
      } else {
        // The first node takes the single server's port (flag, environment, kept); the others are kept in dev.json.
        const keptCluster = kept.clusterPorts?.length === input.cluster ? kept : {};
        const ports = [natsPort ?? 0, ...(keptCluster.clusterPorts?.slice(1) ?? [])];
        const cluster = await NatsCluster.start({ dir: join(dir, 'nats-cluster'), size: input.cluster, ports, ...(keptCluster.routePorts === undefined ? {} : { routePorts: keptCluster.routePorts }) });
        cleanup.unshift(() => cluster.stop());
        nats = { url: cluster.urls[0] as string, port: cluster.ports[0] as number, urls: cluster.urls, ports: cluster.ports, routePorts: cluster.routePorts };
      }
      const coordinator = await Coordinator.start({
        dataDir: join(dir, 'data'),
        ...(grpcListen === undefined ? {} : { grpcListen }),
        ...(natsAuthority === undefined ? {} : { natsAuthority }),
        nats: nats.urls,
        ...(input.cluster === undefined ? {} : { streams: { replicas: input.cluster } }),
        ...(tls === undefined
          ? {}
          : { tls: { certFile: tls.coordinatorCertFile, keyFile: tls.coordinatorKeyFile }, natsOptions: { tls: { caFile: tls.caFile } } }),
        adminKeys: [key.publicKey],
        httpPort: input.httpPort,
        ...(input.maxUpdateBytes === undefined ? {} : { maxUpdateSize: input.maxUpdateBytes }),
        ...(input.aggregationWorkers ? { aggregation: { enabled: true } } : {}),
        // A person reads this console: short lines, not JSON.
        logger: createConsoleLogger(ctx.logLevel ?? 'warn'),
      });
      cleanup.unshift(() => coordinator.close());
      // Over TLS, clients name the coordinator by host name: grpc-js sends the target host as the
      // TLS server name, and an IP address there draws Node's DEP0123 warning (RFC 6066 forbids it).
      const address = tls === undefined || !coordinator.address.startsWith('127.0.0.1:') ? coordinator.address : `localhost:${coordinator.address.slice('127.0.0.1:'.length)}`;
      const exports = {
        TRIBUTARY_COORDINATOR: address,
        TRIBUTARY_KEY: keyFile,
        TRIBUTARY_NATS: nats.url,
        ...(tls === undefined ? {} : { TRIBUTARY_TLS_CA: tls.caFile }),
      };
      const envFile = join(dir, 'env');
      const addresses = { grpcListen: coordinator.address, natsPort: nats.port, ...(nats.routePorts === undefined ? {} : { clusterPorts: nats.ports, routePorts: nats.routePorts }) };
      await writeFile(join(dir, ADDRESSES_FILE), `${JSON.stringify(addresses, null, 2)}\n`);
      await writeFile(envFile, `# Written by tributary dev: . ${shellQuote(envFile)}\n${Object.entries(exports).map(([k, v]) => `export ${k}=${shellQuote(v)}`).join('\n')}\n`);
      const result: DevResult = {
        coordinator: address,
        nats: nats.url,
        ...(input.cluster === undefined ? {} : { natsCluster: nats.urls }),
        keyFile,
        keyId: key.keyId,
        coordinatorKeyId: coordinator.keyId,
        dashboardPort: coordinator.dashboardPort ?? input.httpPort,
        dir,
        temporary,
        envFile,
        ...(natsAuthority === undefined ? {} : { natsAuthority }),
        ...(tls === undefined ? {} : { tlsCa: tls.caFile }),
        exports,
      };
      if (stopped.aborted) await stop();
      return new Running(result, async () => {
        await untilAborted(stopped);
        await stop();
      });
    } catch (err) {
      await stop();
      throw err;
    }
  },
  render(r) {
    return [
      'Tributary dev environment is up.',
      fields([
        ['coordinator', r.coordinator],
        [
          'nats',
          r.natsCluster === undefined
            ? `${r.nats} (JetStream in ${join(r.dir, 'nats')})`
            : `${r.natsCluster.length}-node cluster ${r.natsCluster.join(', ')} (JetStream, streams with ${r.natsCluster.length} replicas, in ${join(r.dir, 'nats-cluster')})`,
        ],
        [
          'nats auth',
          r.natsAuthority === undefined
            ? `none (${r.natsCluster === undefined ? '--no-nats-auth' : '--cluster'}): any client may publish anything`
            : `operator mode (authority in ${r.natsAuthority}); sites get their NATS credentials from the coordinator automatically`,
        ],
        ['tls', r.tlsCa === undefined ? 'off (loopback only; --tls serves gRPC and NATS over TLS)' : `gRPC and NATS, certificates signed by the local CA ${r.tlsCa}`],
        ['admin key', `${r.keyFile} (key id ${r.keyId})`],
        ['dashboard', `port ${r.dashboardPort}: \`tributary dashboard\` prints a login URL`],
        ['coordinator key', `key id ${r.coordinatorKeyId} (signs verdicts)`],
        ['data', `${join(r.dir, 'data')}${r.temporary ? ' (removed on exit)' : ''}`],
      ]).replace(/^/gm, '  '),
      '',
      `In another shell (or \`. ${shellQuote(r.envFile)}\`):`,
      ...Object.entries(r.exports).map(([name, value]) => `  export ${name}=${shellQuote(value)}`),
      '  tributary federation list',
      '',
      'Ctrl-C stops both.',
    ].join('\n');
  },
});

function optionalByteSize(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseByteSize(text, { name: 'max update bytes', from: '--max-update-bytes' });
}

/** Aborts when standard input ends or closes; reading it keeps its buffer empty. */
function stdinClosed(): AbortSignal {
  const closed = new AbortController();
  const onClose = (): void => closed.abort();
  process.stdin.once('end', onClose).once('close', onClose).once('error', onClose);
  process.stdin.resume();
  return closed.signal;
}

function optHostPort(text: string | undefined): string | undefined {
  return text === undefined ? undefined : parseHostPort(text, '--grpc-listen', { allowPortZero: true });
}

/** Where `dev --dir` keeps its addresses across restarts. */
const ADDRESSES_FILE = 'dev.json';

/** The addresses a directory's stack used last time; none when the file is missing or not ours. */
async function readDevAddresses(file: string): Promise<{ grpcListen?: string; natsPort?: number; clusterPorts?: number[]; routePorts?: number[] }> {
  let parsed: unknown;
  try {
    const text = await readFile(file, 'utf8');
    if (text.length > 4096) return {};
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  const o = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const port = o['natsPort'];
  const listen = o['grpcListen'];
  const clusterPorts = portList(o['clusterPorts']);
  const routePorts = portList(o['routePorts']);
  return {
    ...(isPort(port) ? { natsPort: port } : {}),
    ...(clusterPorts !== undefined && routePorts !== undefined && clusterPorts.length === routePorts.length ? { clusterPorts, routePorts } : {}),
    ...(typeof listen === 'string' && /^[^\s]{1,300}:\d{1,5}$/.test(listen) ? { grpcListen: listen } : {}),
  };
}

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 65535;
}

/** A kept list of 3 to 5 ports, or undefined. */
function portList(v: unknown): number[] | undefined {
  return Array.isArray(v) && v.length >= 3 && v.length <= 5 && v.every(isPort) ? (v as number[]) : undefined;
}

/** Whether nothing listens on the loopback port now. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
