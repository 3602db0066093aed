import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { keyIdOf, Reason, TributaryError } from '@tributary/proto';
import { credsAuthenticator } from 'nats';
import type { Logger } from 'pino';
import { COORDINATOR_DEFAULTS } from './coordinator-options.js';
import type { CoordinatorNatsOptions, CoordinatorOptions } from './coordinator-options.js';
import { readConfigFile, resolvePath, SettingLayers } from './layers.js';
import type { Found, RawValue } from './layers.js';
import { readPublicKey } from './public-key.js';
import { certificatePair, loadTlsFiles, readablePath } from './tls-files.js';
import type { TlsFiles } from './tls-files.js';
import {
  invalidValue,
  parseByteSize,
  parseDurationSeconds,
  parseHostPort,
  parseInteger,
  parseLogLevel,
  parseNatsServers,
} from './values.js';
import type { LogLevel, ValueLabel } from './values.js';

/** Keys of the coordinator's YAML config file (also `--<key-with-dashes>` and `TRIBUTARY_<KEY>`). */
export const SERVE_CONFIG_KEYS = [
  'data_dir',
  'grpc_listen',
  'nats',
  'nats_user',
  'nats_password',
  'nats_token',
  'nats_creds',
  'nats_tls_ca',
  'nats_tls_cert',
  'nats_tls_key',
  'nats_authority',
  'nats_replicas',
  'nats_advertise',
  'admin_keys',
  'log_level',
  'metrics_port',
  'http_port',
  'tls_cert',
  'tls_key',
  'auth_skew_seconds',
  'max_update_bytes',
  'tracking_uri',
  'tracking_plugins',
  'strategy_plugins',
  'insecure',
  'aggregation_workers',
] as const;
export type ServeConfigKey = (typeof SERVE_CONFIG_KEYS)[number];

/** `tributary serve`'s settings, validated and defaulted. */
export interface ServeConfig {
  /** Absolute path of the state directory. @default ./.tributary */
  readonly dataDir: string;
  /** gRPC listen address; port 0 picks a free port. @default 127.0.0.1:7400 */
  readonly grpcListen: string;
  /** NATS server URLs. @default ['nats://127.0.0.1:4222'] */
  readonly nats: readonly string[];
  /** How the coordinator authenticates to NATS; no credentials when absent. */
  readonly natsCredentials?: NatsCredentials;
  /** TLS files for NATS; when absent, TLS only if the server asks for it, trusting the system's CAs. */
  readonly natsTls?: TlsFiles;
  /**
   * Absolute path of a NATS authority directory (`tributary nats init`): sites get their own
   * short-lived NATS users from the coordinator, which connects with the authority's own user
   * unless other NATS credentials are set.
   */
  readonly natsAuthority?: string;
  /** JetStream replicas of the data plane's streams (3 on a 3-node cluster). @default new streams get 1, existing ones keep theirs */
  readonly natsReplicas?: number;
  /** The NATS URLs sites are told on every task. @default `nats` without credentials */
  readonly natsAdvertise?: readonly string[];
  /** Public keys allowed to call AdminService; at least one. */
  readonly adminKeys: readonly Uint8Array[];
  /** Key ids of `adminKeys`, in the same order. */
  readonly adminKeyIds: readonly string[];
  /** @default info */
  readonly logLevel: LogLevel;
  /** Prometheus metrics HTTP port; 0 turns metrics off. @default 0 */
  readonly metricsPort: number;
  /** Web dashboard port, on the gRPC listener's host; 0 turns the dashboard off. @default 0 */
  readonly httpPort: number;
  /** gRPC TLS certificate and key files; plaintext when absent. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** Plaintext gRPC on an address other than loopback was asked for (`--insecure`), e.g. behind a TLS proxy. @default false */
  readonly insecure: boolean;
  /** FedAvg updates are offered to aggregation workers (`tributary aggregator`). @default false */
  readonly aggregationWorkers: boolean;
  /** Largest accepted clock difference of a signed call. @default 300 */
  readonly authSkewSeconds: number;
  /** Largest accepted update payload. @default 1 GiB */
  readonly maxUpdateBytes: number;
  /** Tracking store URI; default level://<data_dir>/tracking. */
  readonly trackingUri?: string;
  /** Modules registering tracking store schemes, resolved from the working directory (or the config file's). */
  readonly trackingPlugins: readonly string[];
  /** Modules registering aggregation strategies. */
  readonly strategyPlugins: readonly string[];
  /** The YAML file the settings were read from, if any. */
  readonly configFile?: string;
}

/** One kind of NATS credentials. Secrets: never log them. */
export type NatsCredentials =
  | { readonly kind: 'user'; readonly user: string; readonly password: string }
  | { readonly kind: 'token'; readonly token: string }
  /** A NATS `.creds` file (user JWT and NKEY seed) and its text. */
  | { readonly kind: 'creds'; readonly credsFile: string; readonly creds: string };

/** Command-line flags, camelCase (`grpcListen` is `--grpc-listen`); unset flags are undefined. */
export type ServeConfigFlags = {
  readonly [K in ServeConfigKey as CamelCase<K>]?: RawValue | undefined;
} & {
  /** Path of the YAML config file (`--config`). */
  readonly config?: string | undefined;
};
type CamelCase<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<CamelCase<T>>}` : S;

export interface LoadServeConfigOptions {
  readonly flags?: ServeConfigFlags;
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** YAML config file; else `flags.config`, else `TRIBUTARY_CONFIG`, else none. */
  readonly configFile?: string;
  /** Base of relative paths from flags and the environment. @default process.cwd() */
  readonly cwd?: string;
}

/** Defaults of `serve` alone; the coordinator's own are COORDINATOR_DEFAULTS. */
export const SERVE_DEFAULTS = {
  dataDir: './.tributary',
  nats: 'nats://127.0.0.1:4222',
  logLevel: 'info',
} as const;

/**
 * Loads the coordinator's settings once: flags > `TRIBUTARY_*` environment > YAML file >
 * defaults. Paths in the file are relative to the file. Throws INVALID_ARGUMENT naming the
 * setting and its source for any bad value, and for unknown keys in the file.
 */
export async function loadServeConfig(opts: LoadServeConfigOptions = {}): Promise<ServeConfig> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const flags = opts.flags ?? {};
  const configPath = nonEmpty(opts.configFile) ?? nonEmpty(flags.config) ?? nonEmpty(env['TRIBUTARY_CONFIG']);
  const file = configPath === undefined ? undefined : await readConfigFile(resolve(cwd, configPath), SERVE_CONFIG_KEYS);
  const layers = new SettingLayers<ServeConfigKey>(SERVE_CONFIG_KEYS, {
    flags,
    env,
    file,
    cwd,
    flagLabels: { admin_keys: '--admin-key' },
  });

  const dataDirSetting = layers.text('data_dir');
  const dataDir = dataDirSetting === undefined ? resolve(cwd, SERVE_DEFAULTS.dataDir) : resolvePath(nonBlank(dataDirSetting));

  const listen = layers.text('grpc_listen');
  const grpcListen = listen === undefined ? COORDINATOR_DEFAULTS.grpcListen : parseHostPort(listen.value, listen.what, { allowPortZero: true });

  const natsSetting = layers.list('nats');
  const nats = natsSetting === undefined ? [SERVE_DEFAULTS.nats] : parseNatsServers(natsSetting.value, natsSetting.what);

  const advertiseSetting = layers.list('nats_advertise');
  const natsAdvertise = advertiseSetting === undefined ? undefined : parseNatsServers(advertiseSetting.value, advertiseSetting.what);

  const natsCredentials = await loadNatsCredentials(layers);
  const natsTls = loadTlsFiles(layers, { ca: 'nats_tls_ca', cert: 'nats_tls_cert', key: 'nats_tls_key' });

  const authoritySetting = layers.text('nats_authority');
  const natsAuthority = authoritySetting === undefined ? undefined : resolvePath(nonBlank(authoritySetting));

  const keysSetting = layers.list('admin_keys');
  if (keysSetting === undefined || keysSetting.value.length === 0) {
    throw TributaryError.of(
      Reason.INVALID_ARGUMENT,
      `admin_keys is required: pass --admin-key, set ${layers.envName('admin_keys')}, or set admin_keys in the config file`,
      { details: { hint: 'Create an admin key with `tributary keygen admin`, then pass --admin-key admin.key.' } },
    );
  }
  const adminKeys: Uint8Array[] = [];
  const adminKeyIds: string[] = [];
  for (const spec of keysSetting.value) {
    const key = await readPublicKey(spec, keysSetting.what, keysSetting.source.baseDir);
    const id = keyIdOf(key);
    if (adminKeyIds.includes(id)) continue;
    adminKeys.push(key);
    adminKeyIds.push(id);
  }

  const level = layers.text('log_level');
  const logLevel = level === undefined ? SERVE_DEFAULTS.logLevel : parseLogLevel(level.value, level.what);

  const replicas = layers.text('nats_replicas');
  const natsReplicas = replicas === undefined ? undefined : parseInteger(replicas.value, replicas.what, 1, 5);

  const metrics = layers.text('metrics_port');
  const metricsPort = metrics === undefined ? COORDINATOR_DEFAULTS.metricsPort : parseInteger(metrics.value, metrics.what, 0, 65535);
  const http = layers.text('http_port');
  const httpPort = http === undefined ? 0 : parseInteger(http.value, http.what, 0, 65535);

  const tlsPair = certificatePair(layers, 'tls_cert', 'tls_key');
  const tls = tlsPair === undefined ? undefined : { certFile: readablePath(tlsPair.cert), keyFile: readablePath(tlsPair.key) };

  const insecureSetting = layers.text('insecure');
  const insecure = insecureSetting === undefined ? false : parseSwitch(insecureSetting);
  const workersSetting = layers.text('aggregation_workers');
  const aggregationWorkers = workersSetting === undefined ? false : parseSwitch(workersSetting);
  if (tls === undefined && !insecure && !isLoopbackListen(grpcListen)) {
    throw TributaryError.of(Reason.INSECURE_LISTEN, `refusing to serve plaintext gRPC on ${grpcListen}, which is not a loopback address: admin keys' calls and sites' models would cross the network unencrypted`, {
      details: {
        hint: 'Give --tls-cert and --tls-key (`tributary tls init --dir tls --host <name>` makes a local CA and certificates), listen on 127.0.0.1, or pass --insecure when a TLS proxy in front terminates TLS.',
      },
    });
  }

  const skew = layers.text('auth_skew_seconds');
  const authSkewSeconds = skew === undefined ? COORDINATOR_DEFAULTS.authSkewMs / 1000 : positive(parseDurationSeconds(skew.value, skew.what), skew);

  const maxBytes = layers.text('max_update_bytes');
  const maxUpdateBytes = maxBytes === undefined ? COORDINATOR_DEFAULTS.maxUpdateBytes : positive(parseByteSize(maxBytes.value, maxBytes.what), maxBytes);

  const tracking = layers.text('tracking_uri');
  const trackingUri = tracking === undefined ? undefined : nonBlank(tracking).value;
  const pluginPaths = (key: 'tracking_plugins' | 'strategy_plugins'): string[] => {
    const setting = layers.list(key);
    if (setting === undefined) return [];
    // A relative path is relative to where it was written (the config file's folder or the cwd).
    return setting.value.map((spec) => (spec.startsWith('.') ? resolve(setting.source.baseDir, spec) : spec));
  };
  const trackingPlugins = pluginPaths('tracking_plugins');
  const strategyPlugins = pluginPaths('strategy_plugins');

  return Object.freeze({
    dataDir,
    grpcListen,
    nats: Object.freeze(nats),
    ...(natsCredentials === undefined ? {} : { natsCredentials: Object.freeze(natsCredentials) }),
    ...(natsTls === undefined ? {} : { natsTls }),
    ...(natsAuthority === undefined ? {} : { natsAuthority }),
    ...(natsReplicas === undefined ? {} : { natsReplicas }),
    ...(natsAdvertise === undefined ? {} : { natsAdvertise: Object.freeze(natsAdvertise) }),
    adminKeys: Object.freeze(adminKeys),
    adminKeyIds: Object.freeze(adminKeyIds),
    logLevel,
    metricsPort,
    httpPort,
    ...(tls === undefined ? {} : { tls: Object.freeze(tls) }),
    insecure,
    aggregationWorkers,
    authSkewSeconds,
    maxUpdateBytes,
    ...(trackingUri === undefined ? {} : { trackingUri }),
    trackingPlugins: Object.freeze(trackingPlugins),
    strategyPlugins: Object.freeze(strategyPlugins),
    ...(file === undefined ? {} : { configFile: file.path }),
  });
}

/** The Coordinator's options for a loaded config. */
export function coordinatorOptionsOf(config: ServeConfig, logger?: Logger): CoordinatorOptions {
  return {
    dataDir: config.dataDir,
    grpcListen: config.grpcListen,
    nats: [...config.nats],
    ...(config.natsAdvertise === undefined ? {} : { natsAdvertise: [...config.natsAdvertise] }),
    adminKeys: [...config.adminKeys],
    metricsPort: config.metricsPort,
    ...(config.httpPort === 0 ? {} : { httpPort: config.httpPort }),
    ...(config.natsReplicas === undefined ? {} : { streams: { replicas: config.natsReplicas } }),
    ...(config.aggregationWorkers ? { aggregation: { enabled: true } } : {}),
    authSkew: config.authSkewSeconds * 1000,
    maxUpdateSize: config.maxUpdateBytes,
    strategyPlugins: [...config.strategyPlugins],
    trackingPlugins: [...config.trackingPlugins],
    ...(config.trackingUri === undefined ? {} : { trackingUri: config.trackingUri }),
    ...(config.tls === undefined ? {} : { tls: { certFile: config.tls.certFile, keyFile: config.tls.keyFile } }),
    ...(config.natsCredentials === undefined && config.natsTls === undefined ? {} : { natsOptions: natsOptionsOf(config) }),
    ...(config.natsAuthority === undefined ? {} : { natsAuthority: config.natsAuthority }),
    ...(logger === undefined ? {} : { logger }),
  };
}

/** The nats.js connection options of the configured NATS credentials and TLS files. */
function natsOptionsOf(config: ServeConfig): CoordinatorNatsOptions {
  const c = config.natsCredentials;
  const credentials: CoordinatorNatsOptions =
    c === undefined
      ? {}
      : c.kind === 'user'
        ? { user: c.user, pass: c.password }
        : c.kind === 'token'
          ? { token: c.token }
          : { authenticator: credsAuthenticator(new TextEncoder().encode(c.creds)) };
  return { ...credentials, ...(config.natsTls === undefined ? {} : { tls: { ...config.natsTls } }) };
}

/** At most one of nats_token, nats_user with nats_password, and nats_creds. */
async function loadNatsCredentials(layers: SettingLayers<ServeConfigKey>): Promise<NatsCredentials | undefined> {
  const user = layers.text('nats_user');
  const password = layers.text('nats_password');
  const token = layers.text('nats_token');
  const creds = layers.text('nats_creds');
  if ((user === undefined) !== (password === undefined)) {
    const given = user ?? password;
    throw invalidSetting(given?.what ?? 'nats_user', 'nats_user and nats_password go together: set both or neither');
  }
  const [first, second] = [user, token, creds].filter((f) => f !== undefined);
  if (first !== undefined && second !== undefined) {
    throw invalidSetting(second.what, `conflicts with ${labelOf(first.what)}: set only one of nats_token, nats_user with nats_password, or nats_creds`);
  }
  if (user !== undefined && password !== undefined) {
    return { kind: 'user', user: nonBlank(user).value, password: nonBlankSecret(password).value };
  }
  if (token !== undefined) return { kind: 'token', token: nonBlankSecret(token).value };
  if (creds === undefined) return undefined;
  const credsFile = readablePath(creds);
  const text = await readFile(credsFile, 'utf8');
  // credsAuthenticator parses the file only when it connects; a wrong file should fail here.
  if (!/-{3,}\s*BEGIN NATS USER JWT\s*-{3,}/.test(text) || !/-{3,}\s*BEGIN USER NKEY SEED\s*-{3,}/.test(text)) {
    throw invalidValue(creds.what, creds.value, 'not a NATS credentials file (expected a user JWT and an NKEY seed)');
  }
  return { kind: 'creds', credsFile, creds: text };
}

/** Whether a gRPC listen address (host:port) accepts connections from this machine only. */
export function isLoopbackListen(hostPort: string): boolean {
  const host = hostPort.slice(0, hostPort.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** A yes/no setting: a flag's `true`, or true/false, yes/no, 1/0 from the environment or the file. */
function parseSwitch(f: Found<string>): boolean {
  const v = f.value.trim().toLowerCase();
  if (['true', 'yes', '1', 'on'].includes(v)) return true;
  if (['false', 'no', '0', 'off'].includes(v)) return false;
  throw invalidValue(f.what, f.value, 'expected true or false');
}

/** Like `invalidValue`, without the value: for settings that may hold secrets. */
function invalidSetting(what: ValueLabel, why: string): TributaryError {
  return TributaryError.invalidArgument(`invalid ${labelOf(what)}: ${why}`);
}

function labelOf(what: ValueLabel): string {
  return typeof what === 'string' ? what : `${what.name} (from ${what.from})`;
}

function nonBlankSecret(f: Found<string>): Found<string> {
  if (f.value.trim() === '') throw invalidSetting(f.what, 'must not be empty');
  return f;
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s.trim() === '' ? undefined : s;
}

function nonBlank<T extends { value: string; what: ValueLabel }>(f: T): T {
  if (f.value.trim() === '') throw invalidValue(f.what, f.value, 'must not be empty');
  return f;
}

function positive(n: number, f: { value: string; what: ValueLabel }): number {
  if (n <= 0) throw invalidValue(f.what, f.value, 'must be greater than zero');
  return n;
}
