import { resolve } from 'node:path';
import type { LocalCaFiles } from '../../../identity/local-ca.js';
import { defineCommand } from '../../command.js';
import { collect, optList, optString } from '../../input.js';
import { fields } from '../../render.js';

export type TlsInitResult = LocalCaFiles;

export default defineCommand({
  path: ['tls', 'init'],
  summary: 'Make a local CA and TLS certificates for the coordinator (gRPC) and nats-server, with openssl',
  options(cmd) {
    cmd
      .requiredOption('--dir <dir>', 'directory for the CA and certificates (created 0700; files 0600)')
      .option('--host <name-or-ip>', 'also valid for this host name or IP address (localhost, 127.0.0.1 and ::1 always); repeatable', collect);
  },
  parse(raw) {
    return { dir: optString(raw, 'dir') ?? '', hosts: optList(raw, 'host') };
  },
  async run(input, ctx): Promise<TlsInitResult> {
    // Loaded on demand, like the other commands that run the coordinator's own code.
    const { createLocalCa } = await import('../../../identity/local-ca.js');
    return createLocalCa({ dir: resolve(ctx.cwd, input.dir), hosts: input.hosts });
  },
  render(r) {
    return [
      `Made a local CA and certificates in ${r.dir}, valid for ${r.names.join(', ')}.`,
      fields([
        ['CA (clients trust it)', r.caFile],
        ['coordinator', `${r.coordinatorCertFile}, ${r.coordinatorKeyFile}`],
        ['nats-server', `${r.natsCertFile}, ${r.natsKeyFile}`],
      ]).replace(/^/gm, '  '),
      '',
      `  tributary serve --tls-cert ${r.coordinatorCertFile} --tls-key ${r.coordinatorKeyFile} --nats-tls-ca ${r.caFile} ...`,
      `  tributary federation list --tls-ca ${r.caFile}     (or export TRIBUTARY_TLS_CA=${r.caFile})`,
      'Keep ca.key offline once the certificates you need are made.',
    ].join('\n');
  },
});
