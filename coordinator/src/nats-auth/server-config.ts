/** What nats-server needs to run in operator mode (decentralised JWT auth). */
export interface OperatorModeSettings {
  readonly operatorJwt: string;
  readonly systemAccountPublicKey: string;
  /** Account JWTs preloaded into the resolver, by account public key. */
  readonly accounts: Readonly<Record<string, string>>;
  /** The full resolver's directory: one server's own, never shared. */
  readonly resolverDir: string;
}

/**
 * The operator-mode lines of a nats-server configuration. The full resolver keeps every account
 * JWT in its directory and takes updates from `$SYS.REQ.CLAIMS.UPDATE`; a preload older than
 * what the directory holds is ignored, so a pushed revocation survives a restart. Deleting
 * accounts by message is off.
 */
export function operatorModeLines(s: OperatorModeSettings): string[] {
  // JSON strings are valid quoted strings in the nats-server config syntax.
  const preload = Object.entries(s.accounts).map(([key, jwt]) => `  ${key}: ${JSON.stringify(jwt)}`);
  return [
    `operator: ${JSON.stringify(s.operatorJwt)}`,
    `system_account: ${s.systemAccountPublicKey}`,
    'resolver {',
    '  type: full',
    `  dir: ${JSON.stringify(s.resolverDir)}`,
    '  allow_delete: false',
    '  interval: "2m"',
    '  timeout: "1.9s"',
    '}',
    'resolver_preload {',
    ...preload,
    '}',
  ];
}

export interface StandaloneServerSettings extends OperatorModeSettings {
  /** `host:port` to listen on. */
  readonly listen: string;
  readonly storeDir: string;
}

/** A whole nats-server configuration file for one server in operator mode with JetStream. */
export function standaloneServerConfig(s: StandaloneServerSettings): string {
  return [
    '# nats-server in operator mode for Tributary (written by `tributary nats init`).',
    '# Every client authenticates with a user JWT signed by an account signing key;',
    '# sites get short-lived, site-scoped users from the coordinator.',
    '#',
    '# Before production: listen on the address your sites reach, and add TLS, e.g.',
    '#   tls { cert_file: "server.pem", key_file: "server-key.pem" }',
    '# In a cluster, give each server its own server_name, cluster {} block and resolver dir.',
    `listen: ${JSON.stringify(s.listen)}`,
    `jetstream { store_dir: ${JSON.stringify(s.storeDir)} }`,
    ...operatorModeLines(s),
    '',
  ].join('\n');
}
