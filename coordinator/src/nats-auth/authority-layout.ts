import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Reason, TributaryError } from '@tributary/proto';
import { writePrivateFile } from '../config/private-file.js';

export { writePrivateFile };

/**
 * Where an authority directory keeps each thing. The directory is 0700 and every file 0600:
 * the seeds and creds in it are as good as the walls they build.
 */
export class AuthorityLayout {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /** nats-server configuration in operator mode, for `nats-server -c`. */
  get serverConfig(): string {
    return join(this.dir, 'nats-server.conf');
  }
  /** What the coordinator needs to mint users and re-sign the account (`AuthoritySecrets`). */
  get secrets(): string {
    return join(this.dir, 'authority.json');
  }
  /** Identity seeds of the operator and accounts: needed only to re-issue the operator JWT. */
  get identityKeys(): string {
    return join(this.dir, 'identity-keys.json');
  }
  get operatorJwt(): string {
    return join(this.dir, 'operator.jwt');
  }
  get systemAccountJwt(): string {
    return join(this.dir, 'system-account.jwt');
  }
  /** The Tributary account's current JWT: re-signed with each revocation. */
  get accountJwt(): string {
    return join(this.dir, 'account.jwt');
  }
  /** The coordinator's own NATS user. */
  get coordinatorCreds(): string {
    return join(this.dir, 'coordinator.creds');
  }
  /** A system-account user, to push account updates to the servers. */
  get systemCreds(): string {
    return join(this.dir, 'system.creds');
  }
  /** The full resolver's directory when nats-server runs from `serverConfig`. */
  get resolverDir(): string {
    return join(this.dir, 'jwt');
  }
  /** JetStream's store when nats-server runs from `serverConfig` without `--store-dir`. */
  get storeDir(): string {
    return join(this.dir, 'jetstream');
  }
}

/** Creates `dir` (and parents) owner-only; an existing directory is narrowed to 0700. */
export async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}


/** Reads a file of the authority; refuses one that group or others may read. */
export async function readPrivateFile(path: string): Promise<string> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (err) {
    throw TributaryError.of(Reason.NATS_AUTHORITY_MISSING, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err,
      details: { hint: 'Create an authority with `tributary nats init --dir <dir>`, or point to the directory it wrote.' },
    });
  }
  if ((mode & 0o077) !== 0) {
    throw TributaryError.of(Reason.NATS_AUTHORITY_INSECURE, `${path} may be read by others (mode ${(mode & 0o777).toString(8)}): it must be 0600`, {
      details: { hint: `chmod 600 ${path}` },
    });
  }
  return readFile(path, 'utf8');
}
