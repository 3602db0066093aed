import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateSigningKey, readKeyFile, Reason, TributaryError, writeKeyFile } from '@tributary/proto';
import { parseHostPort } from '../../config/values.js';
import { defineCommand, Running } from '../command.js';
import { optFlag, optInteger, optString } from '../input.js';
import { fields } from '../render.js';
import { untilAborted } from '../signals.js';

export interface DevResult {
  /** The coordinator's gRPC address. */
  readonly coordinator: string;
  readonly nats: string;
  /** Admin key file, created on first use. */
  readonly keyFile: string;
  readonly keyId: string;
  /** Key id of the coordinator's own key (`data/coordinator.key`), which signs verdicts; sites may pin it. */
  readonly coordinatorKeyId: string;
  /** Holds admin.key, nats/ (JetStream), nats-authority/ and data/ (coordinator state). */
  readonly dir: string;
  /**
   * nats-server runs in operator mode and sites get their own NATS users from the coordinator
   * (the authority directory); absent with --no-nats-auth.
   */
  readonly natsAuthority?: string;
  /** The directory is removed on exit (no --dir given). */
  readonly temporary: boolean;
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
      .option('--grpc-listen <host:port>', 'coordinator gRPC address (default 127.0.0.1:7400)')
      .option('--nats-port <port>', 'nats-server port (default: a free port)')
      .option('--tls', 'serve gRPC and NATS over TLS, with a local CA and certificates made in <dir>/tls (kept with --dir)')
      .option('--no-nats-auth', 'run nats-server without authentication instead of in operator mode with per-site credentials')
      .option('--stop-on-stdin-close', 'also stop when standard input closes, e.g. when the program that started dev as a child exits');
  },
  parse(raw) {
    const dir = optString(raw, 'dir');
    return {
      dir,
      grpcListen: optHostPort(optString(raw, 'grpcListen')),
      natsPort: optInteger(raw, 'natsPort', '--nats-port', 1, 65535),
      // Commander sets natsAuth to false for --no-nats-auth.
      natsAuth: raw.opts['natsAuth'] !== false,
      stopOnStdinClose: optFlag(raw, 'stopOnStdinClose'),
      tls: optFlag(raw, 'tls'),
    };
  },
  async run(input, ctx) {
    // Loaded on demand: admin commands start faster without the server's modules.
    const [{ Coordinator }, { NATS_SERVER_INSTALL_HINT, NatsServer }, { createLogger }, { createNatsAuthority }, { createLocalCa, hasLocalCa, localCaFiles }] = await Promise.all([
      import('../../coordinator.js'),
      import('../../dev/nats-server.js'),
      import('../../observability/logger.js'),
      import('../../nats-auth/authority-setup.js'),
      import('../../identity/local-ca.js'),
    ]);
    if (!NatsServer.available()) {
      throw TributaryError.of(Reason.NATS_SERVER_MISSING, NATS_SERVER_INSTALL_HINT);
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
      const natsAuthority = input.natsAuth ? join(dir, 'nats-authority') : undefined;
      if (natsAuthority !== undefined && !(await exists(join(natsAuthority, 'authority.json')))) await createNatsAuthority({ dir: natsAuthority });
      // Made once and kept with the directory, so clients keep trusting the same CA.
      const tlsDir = join(dir, 'tls');
      const tls = !input.tls ? undefined : (await hasLocalCa(tlsDir)) ? localCaFiles(tlsDir) : await createLocalCa({ dir: tlsDir });
      const nats = await NatsServer.start({
        storeDir: join(dir, 'nats'),
        ...(tls === undefined ? {} : { tls: { certFile: tls.natsCertFile, keyFile: tls.natsKeyFile } }),
        ...(input.natsPort === undefined ? {} : { port: input.natsPort }),
        ...(natsAuthority === undefined ? {} : { operator: { authorityDir: natsAuthority } }),
      });
      cleanup.unshift(() => nats.stop());
      const coordinator = await Coordinator.start({
        dataDir: join(dir, 'data'),
        ...(input.grpcListen === undefined ? {} : { grpcListen: input.grpcListen }),
        ...(natsAuthority === undefined ? {} : { natsAuthority }),
        nats: nats.url,
        ...(tls === undefined
          ? {}
          : { tls: { certFile: tls.coordinatorCertFile, keyFile: tls.coordinatorKeyFile }, natsOptions: { tls: { caFile: tls.caFile } } }),
        adminKeys: [key.publicKey],
        logger: createLogger(ctx.logLevel ?? 'warn'),
      });
      cleanup.unshift(() => coordinator.close());
      // Over TLS, clients name the coordinator by host name: grpc-js sends the target host as the
      // TLS server name, and an IP address there draws Node's DEP0123 warning (RFC 6066 forbids it).
      const address = tls === undefined || !coordinator.address.startsWith('127.0.0.1:') ? coordinator.address : `localhost:${coordinator.address.slice('127.0.0.1:'.length)}`;
      const result: DevResult = {
        coordinator: address,
        nats: nats.url,
        keyFile,
        keyId: key.keyId,
        coordinatorKeyId: coordinator.keyId,
        dir,
        temporary,
        ...(natsAuthority === undefined ? {} : { natsAuthority }),
        ...(tls === undefined ? {} : { tlsCa: tls.caFile }),
        exports: {
          TRIBUTARY_COORDINATOR: address,
          TRIBUTARY_KEY: keyFile,
          TRIBUTARY_NATS: nats.url,
          ...(tls === undefined ? {} : { TRIBUTARY_TLS_CA: tls.caFile }),
        },
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
        ['nats', `${r.nats} (JetStream in ${join(r.dir, 'nats')})`],
        [
          'nats auth',
          r.natsAuthority === undefined
            ? 'none (--no-nats-auth): any client may publish anything'
            : `operator mode (authority in ${r.natsAuthority}); sites get their NATS credentials from the coordinator automatically`,
        ],
        ['tls', r.tlsCa === undefined ? 'off (loopback only; --tls serves gRPC and NATS over TLS)' : `gRPC and NATS, certificates signed by the local CA ${r.tlsCa}`],
        ['admin key', `${r.keyFile} (key id ${r.keyId})`],
        ['coordinator key', `key id ${r.coordinatorKeyId} (signs verdicts)`],
        ['data', `${join(r.dir, 'data')}${r.temporary ? ' (removed on exit)' : ''}`],
      ]).replace(/^/gm, '  '),
      '',
      'In another shell:',
      ...Object.entries(r.exports).map(([name, value]) => `  export ${name}=${shellQuote(value)}`),
      '  tributary federation list',
      '',
      'Ctrl-C stops both.',
    ].join('\n');
  },
});

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
