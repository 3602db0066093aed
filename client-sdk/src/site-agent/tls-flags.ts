import { Option } from 'commander';
import { Reason, TributaryError } from '@tributary/proto';
import type { SiteClientOptions } from '../options.js';

/** `--tls-ca`, `--tls-cert`, `--tls-key` as commander parsed them (flags > TRIBUTARY_TLS_* variables). */
export interface TlsFlags {
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** The TLS options of every `tributary-site` command that connects: one CA for the coordinator and NATS alike. */
export function tlsOptions(): Option[] {
  return [
    new Option('--tls-ca <file>', 'connect to the coordinator and NATS with TLS, trusting this CA certificate (PEM)').env('TRIBUTARY_TLS_CA'),
    new Option('--tls-cert <file>', 'a client certificate (PEM) for mutual TLS, with --tls-key').env('TRIBUTARY_TLS_CERT'),
    new Option('--tls-key <file>', "the client certificate's key (PEM)").env('TRIBUTARY_TLS_KEY'),
  ];
}

/** The flags as SiteClient's TLS files, for gRPC (`tls`) and NATS (`natsAuth.tls`) alike; none without them. */
export function tlsOf(flags: TlsFlags): Pick<SiteClientOptions, 'tls' | 'natsAuth'> {
  const { tlsCa, tlsCert, tlsKey } = flags;
  if (tlsCa === undefined && tlsCert === undefined && tlsKey === undefined) return {};
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw TributaryError.of(Reason.USAGE, '--tls-cert and --tls-key go together: a client certificate and its key, for mutual TLS');
  const tls = { ...(tlsCa === undefined ? {} : { caFile: tlsCa }), ...(tlsCert === undefined ? {} : { certFile: tlsCert }), ...(tlsKey === undefined ? {} : { keyFile: tlsKey }) };
  return { tls, natsAuth: { tls } };
}
