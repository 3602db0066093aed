import { resolve } from 'node:path';
import { parseByteSize, parseHostPort } from '../../../config/values.js';
import type { NatsAuthorityFiles } from '../../../nats-auth/authority-setup.js';
import { defineCommand } from '../../command.js';
import { optInteger, optString } from '../../input.js';
import { fields } from '../../render.js';

export type NatsInitResult = NatsAuthorityFiles;

const MAX_COUNT = 1_000_000;

export default defineCommand({
  path: ['nats', 'init'],
  summary: 'Create a NATS operator, its accounts and a nats-server configuration in operator mode (JWT auth)',
  options(cmd) {
    cmd
      .requiredOption('--dir <dir>', 'directory to write into (created 0700; must not already hold an authority)')
      .option('--listen <host:port>', 'where the configured nats-server listens (default 127.0.0.1:4222)')
      .option('--store-dir <dir>', "the configured nats-server's JetStream store (default <dir>/jetstream)")
      .option('--operator-name <name>', 'operator name (default tributary)')
      .option('--js-max-disk <size>', 'JetStream file storage limit of the Tributary account, e.g. 100GiB (default unlimited)')
      .option('--js-max-memory <size>', 'JetStream memory storage limit of the Tributary account (default unlimited)')
      .option('--js-max-streams <n>', 'JetStream stream limit of the Tributary account (default unlimited)')
      .option('--js-max-consumers <n>', 'JetStream consumer limit of the Tributary account (default unlimited)');
  },
  parse(raw) {
    const byteLimit = (key: string, flag: string): number | undefined => {
      const v = optString(raw, key);
      return v === undefined ? undefined : parseByteSize(v, flag);
    };
    const listen = optString(raw, 'listen');
    const jetstream = {
      diskBytes: byteLimit('jsMaxDisk', '--js-max-disk'),
      memoryBytes: byteLimit('jsMaxMemory', '--js-max-memory'),
      streams: optInteger(raw, 'jsMaxStreams', '--js-max-streams', 1, MAX_COUNT),
      consumers: optInteger(raw, 'jsMaxConsumers', '--js-max-consumers', 1, MAX_COUNT),
    };
    return {
      dir: optString(raw, 'dir') ?? '',
      listen: listen === undefined ? undefined : parseHostPort(listen, '--listen'),
      storeDir: optString(raw, 'storeDir'),
      operatorName: optString(raw, 'operatorName'),
      jetstream: Object.fromEntries(Object.entries(jetstream).filter(([, v]) => v !== undefined)),
    };
  },
  async run(input, ctx): Promise<NatsInitResult> {
    const { createNatsAuthority } = await import('../../../nats-auth/authority-setup.js');
    return createNatsAuthority({
      dir: resolve(ctx.cwd, input.dir),
      jetstream: input.jetstream,
      ...(input.listen !== undefined ? { listen: input.listen } : {}),
      ...(input.storeDir !== undefined ? { storeDir: resolve(ctx.cwd, input.storeDir) } : {}),
      ...(input.operatorName !== undefined ? { operatorName: input.operatorName } : {}),
    });
  },
  render(r) {
    return [
      `Wrote a NATS authority to ${r.dir} (directory 0700, files 0600).`,
      fields([
        ['server config', r.serverConfig],
        ['coordinator creds', r.coordinatorCreds],
        ['system creds', r.systemCreds],
        ['authority secrets', r.secrets],
        ['identity keys', r.identityKeys],
        ['operator', r.operatorPublicKey],
        ['account', r.accountPublicKey],
        ['system account', r.systemAccountPublicKey],
      ]),
      '',
      `Run NATS with:  nats-server -c ${r.serverConfig}`,
      'The coordinator mints site credentials with the authority secrets; keep them and the creds',
      'secret. identity-keys.json is only needed to re-issue the operator: move it offline.',
    ].join('\n');
  },
});
