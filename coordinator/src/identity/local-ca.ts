import { execFile } from 'node:child_process';
import { access, chmod, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Reason, TributaryError } from '@tributary/proto';
import { ensurePrivateDirectory, PRIVATE_FILE_MODE } from '../config/private-file.js';

const run = promisify(execFile);

/** The PEM files of a local CA and the certificates it signed, all in one 0700 directory. */
export interface LocalCaFiles {
  readonly dir: string;
  /** The CA certificate: what clients trust (`--tls-ca`, `natsAuth.tls.caFile`). */
  readonly caFile: string;
  /** The coordinator's gRPC certificate and key (`--tls-cert`, `--tls-key`). */
  readonly coordinatorCertFile: string;
  readonly coordinatorKeyFile: string;
  /** nats-server's certificate and key. */
  readonly natsCertFile: string;
  readonly natsKeyFile: string;
  /** Subject alternative names of both certificates. */
  readonly names: readonly string[];
}

/** Names every certificate covers: this machine by name and by its IPv4 and IPv6 loopback addresses. */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** Validity of the CA and the certificates: a local set-up, renewed by running init again. */
const DAYS = 825;

const files = (dir: string): Omit<LocalCaFiles, 'names'> => ({
  dir,
  caFile: join(dir, 'ca.pem'),
  coordinatorCertFile: join(dir, 'coordinator.pem'),
  coordinatorKeyFile: join(dir, 'coordinator.key'),
  natsCertFile: join(dir, 'nats.pem'),
  natsKeyFile: join(dir, 'nats.key'),
});

/** Whether `dir` already holds a local CA made by `createLocalCa`. */
export async function hasLocalCa(dir: string): Promise<boolean> {
  try {
    await access(files(dir).caFile);
    return true;
  } catch {
    return false;
  }
}

/** The files of the local CA in `dir`, without creating anything. */
export function localCaFiles(dir: string, hosts: readonly string[] = []): LocalCaFiles {
  return { ...files(dir), names: [...LOOPBACK_NAMES, ...hosts] };
}

/**
 * Makes a local CA (EC P-256, its key never leaves `dir`) and two certificates it signs, one for
 * the coordinator's gRPC server and one for nats-server, valid for localhost, 127.0.0.1, ::1 and
 * `hosts` (names or IP addresses). Uses the `openssl` command. The directory is 0700 and every
 * file 0600. Refuses (ALREADY_EXISTS) when `dir` already holds a CA: delete it to start over.
 */
export async function createLocalCa(opts: { dir: string; hosts?: readonly string[] }): Promise<LocalCaFiles> {
  const hosts = [...new Set(opts.hosts ?? [])].filter((h) => !LOOPBACK_NAMES.includes(h));
  for (const h of hosts) {
    if (isIP(h) === 0 && !HOST_NAME.test(h)) throw TributaryError.invalidArgument(`invalid --host ${JSON.stringify(h)}: expected a host name or an IP address`);
  }
  if (await hasLocalCa(opts.dir)) throw TributaryError.of(Reason.ALREADY_EXISTS, `${opts.dir} already holds a CA (ca.pem); remove it to make a new one`);
  await ensurePrivateDirectory(opts.dir);
  await openssl(['version'], opts.dir, 'openssl is not installed').catch((err: unknown) => {
    throw TributaryError.of(Reason.TLS_SETUP_FAILED, 'the openssl command is needed to make certificates and was not found', {
      cause: err,
      details: { hint: 'Install it (Debian: apt-get install openssl), or bring your own certificates and pass --tls-cert/--tls-key.' },
    });
  });
  const f = localCaFiles(opts.dir, hosts);
  const san = f.names.map((n) => (isIP(n) === 0 ? `DNS:${n}` : `IP:${n}`)).join(',');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const caKey = join(opts.dir, 'ca.key');
  await openssl(['req', '-x509', ...ec, '-keyout', caKey, '-out', f.caFile, '-days', String(DAYS), '-subj', '/CN=Tributary local CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], opts.dir, 'cannot make the CA');
  const ext = join(opts.dir, 'server.ext');
  await writeFile(ext, [`subjectAltName=${san}`, 'basicConstraints=CA:FALSE', 'keyUsage=digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth,clientAuth'].join('\n'), { mode: PRIVATE_FILE_MODE });
  try {
    for (const [name, cert, key] of [['coordinator', f.coordinatorCertFile, f.coordinatorKeyFile], ['nats', f.natsCertFile, f.natsKeyFile]] as const) {
      const csr = join(opts.dir, `${name}.csr`);
      await openssl(['req', ...ec, '-keyout', key, '-out', csr, '-subj', `/CN=tributary-${name}`], opts.dir, `cannot make the ${name} key`);
      await openssl(['x509', '-req', '-in', csr, '-CA', f.caFile, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', String(DAYS), '-extfile', ext], opts.dir, `cannot sign the ${name} certificate`);
      await rm(csr, { force: true });
    }
  } finally {
    await rm(ext, { force: true });
    await rm(join(opts.dir, 'ca.srl'), { force: true });
  }
  for (const path of [caKey, f.caFile, f.coordinatorCertFile, f.coordinatorKeyFile, f.natsCertFile, f.natsKeyFile]) await chmod(path, PRIVATE_FILE_MODE);
  return f;
}

async function openssl(args: string[], cwd: string, what: string): Promise<void> {
  try {
    // Keys are written with the process umask; the directory is 0700, and every file is made 0600 at the end.
    await run('openssl', args, { cwd, timeout: 60_000 });
  } catch (err) {
    const stderr = (err as { stderr?: unknown }).stderr;
    throw TributaryError.of(Reason.TLS_SETUP_FAILED, `${what}: openssl ${args[0] ?? ''} failed${typeof stderr === 'string' && stderr.trim() !== '' ? `: ${stderr.trim().split('\n')[0]}` : ''}`, { cause: err });
  }
}
