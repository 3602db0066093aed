import { isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect, createSecureContext, type PeerCertificate, type SecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { CallCredentials, ChannelOptions, experimental } from '@grpc/grpc-js';

/** PEM material of a TLS client: the CA to trust (the system's when absent), and a client certificate with its key for mutual TLS. */
export interface TlsClientPems {
  readonly ca?: Buffer | null;
  readonly cert?: Buffer | null;
  readonly key?: Buffer | null;
}

/**
 * gRPC channel credentials over TLS, like grpc-js's `credentials.createSsl`, that also work
 * for a coordinator named by IP address: grpc-js sends the target host as the TLS server name
 * (SNI), which RFC 6066 forbids for an IP address (Node warns with DEP0123). These send a
 * server name only for a host name; the certificate is verified against the target either way,
 * an IP address against the certificate's IP SANs.
 */
export function tlsChannelCredentials(pems: TlsClientPems = {}): grpc.ChannelCredentials {
  return new TlsChannelCredentials(
    createSecureContext({
      ...(pems.ca == null ? {} : { ca: pems.ca }),
      ...(pems.cert == null ? {} : { cert: pems.cert }),
      ...(pems.key == null ? {} : { key: pems.key }),
    }),
  );
}

class TlsChannelCredentials extends grpc.ChannelCredentials {
  constructor(private readonly context: SecureContext) {
    super();
  }

  _isSecure(): boolean {
    return true;
  }

  _equals(other: grpc.ChannelCredentials): boolean {
    return other instanceof TlsChannelCredentials && other.context === this.context;
  }

  _createSecureConnector(target: experimental.GrpcUri, options: ChannelOptions, callCredentials?: CallCredentials): experimental.SecureConnector {
    const override = options['grpc.ssl_target_name_override'];
    const name = typeof override === 'string' && override !== '' ? override : targetHost(target);
    const context = this.context;
    const calls = callCredentials ?? grpc.credentials.createEmpty();
    return {
      connect: (socket: Socket) =>
        new Promise((resolve, reject) => {
          const tlsSocket = connect(
            {
              socket,
              secureContext: context,
              host: name,
              ALPNProtocols: ['h2'],
              ...(isIP(name) === 0 ? { servername: name } : {}),
              checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
            },
            () => {
              if (!tlsSocket.authorized) reject(tlsSocket.authorizationError);
              else resolve({ socket: tlsSocket, secure: true });
            },
          );
          tlsSocket.once('error', reject);
        }),
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => calls,
      destroy: () => undefined,
    };
  }
}

/** The host a channel's target names, as grpc-js takes it for its default authority. */
function targetHost(target: experimental.GrpcUri): string {
  if (target.scheme === 'unix' || target.scheme === 'unix-abstract') return 'localhost';
  const hostPort = grpc.experimental.splitHostPort(target.path);
  const host = hostPort?.host ?? target.path;
  // An IPv6 literal may come bracketed.
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
