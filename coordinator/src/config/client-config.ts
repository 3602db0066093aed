import { resolve } from 'node:path';
import { SettingLayers } from './layers.js';
import { loadTlsFiles } from './tls-files.js';
import type { TlsFiles } from './tls-files.js';
import { invalidValue, parseHostPort } from './values.js';

export const CLIENT_CONFIG_KEYS = ['coordinator', 'key', 'tls_ca', 'tls_cert', 'tls_key'] as const;
export type ClientConfigKey = (typeof CLIENT_CONFIG_KEYS)[number];

/** Where admin commands connect and which key signs their calls. */
export interface ClientConfig {
  /** The coordinator's gRPC address. @default 127.0.0.1:7400 */
  readonly coordinator: string;
  /** Absolute path of the signing key file. @default ./admin.key */
  readonly keyFile: string;
  /** TLS to the coordinator (a client certificate for a proxy that asks for one); plaintext when absent. */
  readonly tls?: TlsFiles;
}

export interface LoadClientConfigOptions {
  readonly flags?: {
    readonly coordinator?: string | undefined;
    readonly key?: string | undefined;
    readonly tlsCa?: string | undefined;
    readonly tlsCert?: string | undefined;
    readonly tlsKey?: string | undefined;
  };
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** @default process.cwd() */
  readonly cwd?: string;
}

/** `coordinator` is the coordinator's default listen address (COORDINATOR_DEFAULTS.grpcListen, not imported: it loads pino). */
export const CLIENT_DEFAULTS = { coordinator: '127.0.0.1:7400', keyFile: './admin.key' } as const;

/**
 * Flags > `TRIBUTARY_COORDINATOR`, `TRIBUTARY_KEY`, `TRIBUTARY_TLS_CA`, `TRIBUTARY_TLS_CERT`,
 * `TRIBUTARY_TLS_KEY` > defaults, validated; TLS files must be readable.
 */
export function loadClientConfig(opts: LoadClientConfigOptions = {}): ClientConfig {
  const cwd = opts.cwd ?? process.cwd();
  const layers = new SettingLayers<ClientConfigKey>(CLIENT_CONFIG_KEYS, {
    flags: opts.flags ?? {},
    env: opts.env ?? process.env,
    cwd,
  });
  const address = layers.text('coordinator');
  const key = layers.text('key');
  if (key !== undefined && key.value.trim() === '') throw invalidValue(key.what, key.value, 'must not be empty');
  const tls = loadTlsFiles(layers, { ca: 'tls_ca', cert: 'tls_cert', key: 'tls_key' });
  return Object.freeze({
    coordinator: address === undefined ? CLIENT_DEFAULTS.coordinator : parseHostPort(address.value, address.what),
    keyFile: resolve(key?.source.baseDir ?? cwd, key?.value ?? CLIENT_DEFAULTS.keyFile),
    ...(tls === undefined ? {} : { tls }),
  });
}
