import type { ServeConfigFlags } from '../../config/serve-config.js';
import { defineCommand, Running } from '../command.js';
import { collect, optFlag, optList, optString } from '../input.js';
import { untilAborted } from '../signals.js';

export interface ServeResult {
  /** host:port the gRPC server listens on. */
  readonly address: string;
  readonly dataDir: string;
  /** Key id of the coordinator's own key (`<dataDir>/coordinator.key`), which signs verdicts; sites may pin it. */
  readonly coordinatorKeyId: string;
  readonly nats: readonly string[];
  /** How the coordinator authenticates to NATS (never the secret itself). */
  readonly natsAuth: 'none' | 'user' | 'token' | 'creds';
  /** TLS files are configured for NATS. */
  readonly natsTls: boolean;
  /** The NATS authority directory issuing per-site NATS users, if any. */
  readonly natsAuthority?: string;
  readonly adminKeyIds: readonly string[];
  /** 0 when metrics are off. */
  readonly metricsPort: number;
  /** Port of the web dashboard; absent when it is off. */
  readonly dashboardPort?: number;
  readonly tls: boolean;
  readonly configFile?: string;
}

export default defineCommand({
  path: ['serve'],
  summary: 'Run the coordinator (flags > TRIBUTARY_* environment > --config YAML file > defaults)',
  handlesInterrupt: true,
  options(cmd) {
    cmd
      .option('--config <file>', 'YAML config file (env TRIBUTARY_CONFIG)')
      .option('--data-dir <dir>', 'state directory (default ./.tributary)')
      .option('--grpc-listen <host:port>', 'gRPC listen address (default 127.0.0.1:7400)')
      .option('--nats <urls>', 'NATS server URL(s), comma-separated (default nats://127.0.0.1:4222)')
      .option('--nats-user <user>', 'NATS user, with --nats-password')
      .option('--nats-password <password>', 'NATS password (prefer env TRIBUTARY_NATS_PASSWORD: flags show in ps)')
      .option('--nats-token <token>', 'NATS token (prefer env TRIBUTARY_NATS_TOKEN: flags show in ps)')
      .option('--nats-creds <file>', 'NATS credentials file (.creds: user JWT and NKEY seed)')
      .option('--nats-tls-ca <file>', 'CA certificate (PEM) that signed the NATS server certificate')
      .option('--nats-tls-cert <file>', 'client certificate (PEM) for NATS mutual TLS, with --nats-tls-key')
      .option('--nats-tls-key <file>', 'client private key (PEM) for NATS mutual TLS')
      .option('--nats-authority <dir>', 'NATS authority directory (`tributary nats init`): sites get their own short-lived NATS users from the coordinator')
      .option('--nats-advertise <urls>', 'NATS URL(s) told to sites on every task, comma-separated, nats:// or tls:// (default: --nats without credentials); sites switch to them')
      .option('--nats-replicas <n>', 'JetStream replicas of the streams it creates: 3 on a 3-node NATS cluster (default 1)')
      .option('--admin-key <key>', 'admin public key (base64) or key file; repeatable', collect)
      .option('--metrics-port <port>', 'Prometheus metrics port; 0 = off (default 0)')
      .option('--http-port <port>', 'read-only web dashboard port (`tributary dashboard` logs in); 0 = off (default 0)')
      .option('--tls-cert <file>', 'gRPC TLS certificate (PEM)')
      .option('--tls-key <file>', 'gRPC TLS private key (PEM)')
      .option('--aggregation-workers', 'offer FedAvg updates to aggregation workers (`tributary aggregator`) as fold jobs, and combine their partials')
      .option('--insecure', 'allow plaintext gRPC on an address other than loopback (only behind a proxy that terminates TLS)')
      .option('--auth-skew-seconds <duration>', 'accepted clock skew of signed calls (default 300)')
      .option('--max-update-bytes <size>', 'largest accepted update payload (default 1GiB)')
      .option('--tracking-uri <uri>', 'tracking store: level://PATH, memory:, http(s)://MLFLOW-HOST, or a plugin scheme (default level://<data-dir>/tracking)')
      .option('--tracking-plugin <module>', 'module or package registering tracking store schemes; repeatable', collect)
      .option('--strategy-plugin <module>', 'module or package registering aggregation strategies; repeatable', collect);
  },
  parse(raw): ServeConfigFlags {
    const adminKeys = optList(raw, 'adminKey');
    const strategyPlugins = optList(raw, 'strategyPlugin');
    const trackingPlugins = optList(raw, 'trackingPlugin');
    return {
      config: optString(raw, 'config'),
      dataDir: optString(raw, 'dataDir'),
      grpcListen: optString(raw, 'grpcListen'),
      nats: optString(raw, 'nats'),
      natsUser: optString(raw, 'natsUser'),
      natsPassword: optString(raw, 'natsPassword'),
      natsToken: optString(raw, 'natsToken'),
      natsCreds: optString(raw, 'natsCreds'),
      natsTlsCa: optString(raw, 'natsTlsCa'),
      natsTlsCert: optString(raw, 'natsTlsCert'),
      natsTlsKey: optString(raw, 'natsTlsKey'),
      natsAuthority: optString(raw, 'natsAuthority'),
      natsReplicas: optString(raw, 'natsReplicas'),
      natsAdvertise: optString(raw, 'natsAdvertise'),
      adminKeys: adminKeys.length === 0 ? undefined : adminKeys,
      logLevel: optString(raw, 'logLevel'),
      metricsPort: optString(raw, 'metricsPort'),
      httpPort: optString(raw, 'httpPort'),
      tlsCert: optString(raw, 'tlsCert'),
      tlsKey: optString(raw, 'tlsKey'),
      insecure: optFlag(raw, 'insecure') ? true : undefined,
      aggregationWorkers: optFlag(raw, 'aggregationWorkers') ? true : undefined,
      authSkewSeconds: optString(raw, 'authSkewSeconds'),
      maxUpdateBytes: optString(raw, 'maxUpdateBytes'),
      trackingUri: optString(raw, 'trackingUri'),
      trackingPlugins: trackingPlugins.length === 0 ? undefined : trackingPlugins,
      strategyPlugins: strategyPlugins.length === 0 ? undefined : strategyPlugins,
    };
  },
  async run(flags, ctx) {
    // Loaded on demand: admin commands start faster without the server's modules (nats among them).
    const { coordinatorOptionsOf, loadServeConfig } = await import('../../config/serve-config.js');
    const config = await loadServeConfig({ flags, env: ctx.env, cwd: ctx.cwd });
    const [{ Coordinator }, { createLogger }] = await Promise.all([import('../../coordinator.js'), import('../../observability/logger.js')]);
    const logger = createLogger(config.logLevel);
    // Files libraries write with the process umask (LevelDB's) are the coordinator user's only, as its own are.
    process.umask(0o077);
    const coordinator = await Coordinator.start(coordinatorOptionsOf(config, logger));
    const result: ServeResult = {
      address: coordinator.address,
      dataDir: config.dataDir,
      coordinatorKeyId: coordinator.keyId,
      nats: config.nats,
      natsAuth: config.natsCredentials?.kind ?? 'none',
      natsTls: config.natsTls !== undefined,
      ...(config.natsAuthority === undefined ? {} : { natsAuthority: config.natsAuthority }),
      adminKeyIds: config.adminKeyIds,
      metricsPort: config.metricsPort,
      ...(coordinator.dashboardPort === undefined ? {} : { dashboardPort: coordinator.dashboardPort }),
      tls: config.tls !== undefined,
      ...(config.configFile === undefined ? {} : { configFile: config.configFile }),
    };
    return new Running(result, async () => {
      await untilAborted(ctx.signal);
      logger.info('stopping');
      await coordinator.close();
    });
  },
  render(r) {
    const metrics = `${r.metricsPort === 0 ? '' : `, metrics on :${r.metricsPort}`}${r.dashboardPort === undefined ? '' : `, dashboard on :${r.dashboardPort}`}`;
    const natsSecurity = [r.natsAuth === 'none' ? '' : r.natsAuth, r.natsTls ? 'TLS' : '', r.natsAuthority === undefined ? '' : 'per-site credentials'].filter((s) => s !== '').join(', ');
    const nats = `${r.nats.join(',')}${natsSecurity === '' ? '' : ` (${natsSecurity})`}`;
    return `Coordinator listening on ${r.address}${r.tls ? ' (TLS)' : ''} (data ${r.dataDir}, NATS ${nats}${metrics}), coordinator key id ${r.coordinatorKeyId}. Ctrl-C stops it.`;
  },
});
