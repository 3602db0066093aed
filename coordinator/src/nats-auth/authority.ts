import { decode, encodeAccount, encodeUser, fmtCreds, type Account, type ClaimsData, type KeyPair } from '@nats-io/jwt';
import { createUser, fromPublic } from '@nats-io/nkeys';
import { Reason, aggregationSubjects, assertName, subjects, TributaryError } from '@tributary/proto';
import type { ConnectionOptions } from 'nats';
import { AuthorityLayout, readPrivateFile, writePrivateFile } from './authority-layout.js';
import { expectPublicKey, parseAuthoritySecrets, signingKeyOf, type AuthoritySecrets } from './authority-secrets.js';
import { ClaimsUpdater, type ClaimsUpdateAck } from './claims-update.js';
import { MemorySiteCredentialLedger, aggregatorHolder, type SiteCredentialLedger } from './credential-ledger.js';
import { aggregatorPermissions, sitePermissions } from './permissions.js';
import type { OperatorModeSettings } from './server-config.js';

import { DEFAULT_SITE_CREDENTIAL_TTL_MS, MAX_SITE_CREDENTIAL_TTL_MS, MIN_SITE_CREDENTIAL_TTL_MS } from '../config/site-credential-ttl.js';

export { DEFAULT_SITE_CREDENTIAL_TTL_MS, MAX_SITE_CREDENTIAL_TTL_MS, MIN_SITE_CREDENTIAL_TTL_MS };

export interface NatsAuthorityOptions {
  /** A directory written by `createNatsAuthority` (`tributary nats init`). */
  readonly dir: string;
  /** Where issued site credentials are recorded. @default in memory */
  readonly ledger?: SiteCredentialLedger;
  /** NATS servers to push account updates to; without them an update is only saved. */
  readonly servers?: readonly string[];
  readonly tls?: ConnectionOptions['tls'];
}

export interface SiteCredentialsRequest {
  readonly site: string;
  /** The federations the site is a member of: it may publish in these only. */
  readonly federations: readonly string[];
  /** The site's own nkey (`U...`), whose seed never leaves the site. @default a new key, returned with its seed */
  readonly userPublicKey?: string;
  /** @default 3600000 (1 h) */
  readonly ttlMs?: number;
}

export interface SiteCredentials {
  readonly site: string;
  readonly federations: readonly string[];
  readonly userPublicKey: string;
  /** The user JWT, signed by the account signing key. */
  readonly jwt: string;
  /** The user's nkey seed, when the authority made the key. */
  readonly seed?: string;
  /** A `.creds` file's text (JWT and seed), when the authority made the key. */
  readonly creds?: string;
  /** The nats.js `inboxPrefix` the site must connect with: replies and acks come only there. */
  readonly inboxPrefix: string;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
}

/** An account JWT re-signed and, when servers are known, pushed to them. */
export interface AccountUpdate {
  /** User keys this update revoked. */
  readonly revoked: readonly string[];
  readonly accountJwt: string;
  /** The servers' answer; absent when no servers are configured. */
  readonly pushed?: ClaimsUpdateAck;
}

/**
 * The coordinator's NATS credential authority: it mints site-scoped, short-lived user JWTs with
 * the account signing key, and revokes users by re-signing the account JWT with the operator
 * signing key and pushing it to the servers, which drop the revoked users' connections.
 *
 * ```ts
 * const authority = await NatsAuthority.load({ dir: '/etc/tributary/nats', servers: ['nats://127.0.0.1:4222'] });
 * const creds = await authority.issueSiteCredentials({ site: 'clinic-a', federations: ['churn'] });
 * await authority.revokeSite('clinic-a');
 * await authority.revokeAggregator('agg-1');
 * await authority.close();
 * ```
 */
export class NatsAuthority {
  private accountClaims: ClaimsData<Account>;
  private account: string;
  // Account updates run one at a time: each re-signs the one before.
  private updating: Promise<unknown> = Promise.resolve();
  private readonly updater: ClaimsUpdater | undefined;

  private constructor(
    private readonly layout: AuthorityLayout,
    private readonly secrets: AuthoritySecrets,
    private readonly operatorSigningKey: KeyPair,
    private readonly accountSigningKey: KeyPair,
    readonly operatorJwt: string,
    readonly systemAccountJwt: string,
    accountJwt: string,
    private readonly ledger: SiteCredentialLedger,
    updater: ClaimsUpdater | undefined,
  ) {
    this.account = accountJwt;
    this.accountClaims = decode<Account>(accountJwt);
    this.updater = updater;
  }

  static async load(options: NatsAuthorityOptions): Promise<NatsAuthority> {
    const layout = new AuthorityLayout(options.dir);
    const secrets = parseAuthoritySecrets(await readPrivateFile(layout.secrets), layout.secrets);
    const invalid = (path: string) => (why: string) => TributaryError.of(Reason.NATS_AUTHORITY_INVALID, `${path}: ${why}`);
    const operatorSigningKey = signingKeyOf(secrets.operator.signingKeySeed, 'O', 'operator.signingKeySeed', invalid(layout.secrets));
    const accountSigningKey = signingKeyOf(secrets.account.signingKeySeed, 'A', 'account.signingKeySeed', invalid(layout.secrets));
    const operatorJwt = await readJwt(layout.operatorJwt, secrets.operator.publicKey, invalid(layout.operatorJwt));
    const systemAccountJwt = await readJwt(layout.systemAccountJwt, secrets.systemAccount.publicKey, invalid(layout.systemAccountJwt));
    const accountJwt = await readJwt(layout.accountJwt, secrets.account.publicKey, invalid(layout.accountJwt));
    const updater =
      options.servers !== undefined && options.servers.length > 0
        ? new ClaimsUpdater({
            servers: options.servers,
            systemCreds: new TextEncoder().encode(await readPrivateFile(layout.systemCreds)),
            ...(options.tls !== undefined ? { tls: options.tls } : {}),
          })
        : undefined;
    return new NatsAuthority(layout, secrets, operatorSigningKey, accountSigningKey, operatorJwt, systemAccountJwt, accountJwt, options.ledger ?? new MemorySiteCredentialLedger(), updater);
  }

  get dir(): string {
    return this.layout.dir;
  }
  get operatorPublicKey(): string {
    return this.secrets.operator.publicKey;
  }
  get systemAccountPublicKey(): string {
    return this.secrets.systemAccount.publicKey;
  }
  get accountPublicKey(): string {
    return this.secrets.account.publicKey;
  }
  /** The Tributary account's current JWT, revocations included. */
  get accountJwt(): string {
    return this.account;
  }
  /** Revoked user keys and when (seconds): JWTs of these keys issued at or before it are refused. */
  get revocations(): Readonly<Record<string, number>> {
    return { ...this.accountClaims.nats.revocations };
  }
  /** Path of the coordinator's own creds file. */
  get coordinatorCredsFile(): string {
    return this.layout.coordinatorCreds;
  }
  /** Path of the system-account user's creds file. */
  get systemCredsFile(): string {
    return this.layout.systemCreds;
  }

  /** The coordinator's own creds (pull consumers, stream management, verdicts). */
  async coordinatorCreds(): Promise<Uint8Array> {
    return new TextEncoder().encode(await readPrivateFile(this.layout.coordinatorCreds));
  }

  /** The system-account user's creds (account updates). */
  async systemCreds(): Promise<Uint8Array> {
    return new TextEncoder().encode(await readPrivateFile(this.layout.systemCreds));
  }

  /** What a nats-server needs to trust this authority, with the current account JWTs preloaded. */
  operatorModeSettings(resolverDir: string): OperatorModeSettings {
    return {
      operatorJwt: this.operatorJwt,
      systemAccountPublicKey: this.systemAccountPublicKey,
      accounts: { [this.systemAccountPublicKey]: this.systemAccountJwt, [this.accountPublicKey]: this.account },
      resolverDir,
    };
  }

  /**
   * A user JWT for `site`, signed by the account signing key, expiring after `ttlMs`: publish
   * only on the site's own subjects in its federations, subscribe only to its inbox prefix and
   * its verdicts. Recorded in the ledger before it is returned, so `revokeSite` reaches it.
   */
  async issueSiteCredentials(req: SiteCredentialsRequest): Promise<SiteCredentials> {
    const site = assertName('site', req.site);
    const federations = [...new Set(req.federations.map((f) => assertName('federation', f)))].sort();
    const ttlMs = checkedTtl(req.ttlMs ?? DEFAULT_SITE_CREDENTIAL_TTL_MS);
    let user: KeyPair;
    let made = false;
    if (req.userPublicKey !== undefined) {
      user = fromPublic(expectPublicKey(req.userPublicKey, 'U', 'userPublicKey', (why) => TributaryError.invalidArgument(why)));
    } else {
      user = createUser();
      made = true;
    }
    await this.afterRevocationOf(user.getPublicKey());
    const issuedAtMs = Date.now();
    const exp = Math.floor((issuedAtMs + ttlMs) / 1000);
    const jwt = await encodeUser(
      site,
      user,
      this.accountPublicKey,
      { ...sitePermissions(site, federations), allowed_connection_types: ['STANDARD'] },
      { signer: this.accountSigningKey, exp },
    );
    const credential = { site, federations, userPublicKey: user.getPublicKey(), issuedAtMs, expiresAtMs: exp * 1000 };
    await this.ledger.record(credential);
    const inboxPrefix = subjects.inboxPrefix(site);
    if (!made) return { ...credential, jwt, inboxPrefix };
    const seed = new TextDecoder().decode(user.getSeed());
    return { ...credential, jwt, seed, creds: new TextDecoder().decode(fmtCreds(jwt, user)), inboxPrefix };
  }

  /**
   * A user JWT for the aggregation worker `worker` (a principal's name) and its nkey, expiring
   * after `ttlMs`: read the payload stream, take fold jobs, answer them, hand back its partials
   * (`aggregatorPermissions`). Recorded in the ledger before it is returned, so
   * `revokeAggregator` reaches it.
   */
  async issueAggregatorCredentials(req: { worker: string; userPublicKey: string; ttlMs?: number }): Promise<{ jwt: string; inboxPrefix: string; expiresAtMs: number }> {
    const worker = assertName('principal', req.worker);
    const ttlMs = checkedTtl(req.ttlMs ?? DEFAULT_SITE_CREDENTIAL_TTL_MS);
    const user = fromPublic(expectPublicKey(req.userPublicKey, 'U', 'userPublicKey', (why) => TributaryError.invalidArgument(why)));
    await this.afterRevocationOf(user.getPublicKey());
    const issuedAtMs = Date.now();
    const exp = Math.floor((issuedAtMs + ttlMs) / 1000);
    const jwt = await encodeUser(`aggregator-${worker}`, user, this.accountPublicKey, { ...aggregatorPermissions(worker), allowed_connection_types: ['STANDARD'] }, { signer: this.accountSigningKey, exp });
    await this.ledger.record({ site: aggregatorHolder(worker), federations: [], userPublicKey: user.getPublicKey(), issuedAtMs, expiresAtMs: exp * 1000 });
    return { jwt, inboxPrefix: aggregationSubjects.inboxPrefix(worker), expiresAtMs: exp * 1000 };
  }

  /**
   * Revokes users: adds their keys to the account JWT's revocations (at now), re-signs it with the
   * operator signing key, saves it, and pushes it to the servers, which close the users' live
   * connections and refuse their JWTs from then on. When the push fails the update is saved
   * and the error is UNAVAILABLE: `publishAccount()` retries it.
   */
  async revokeUsers(userPublicKeys: readonly string[]): Promise<AccountUpdate> {
    const keys = [...new Set(userPublicKeys.map((k) => expectPublicKey(k, 'U', 'user public key', (why) => TributaryError.invalidArgument(why))))];
    return this.serially(async () => {
      const at = Math.floor(Date.now() / 1000);
      const revocations = { ...this.accountClaims.nats.revocations };
      for (const key of keys) revocations[key] = Math.max(revocations[key] ?? 0, at);
      const { name, nats } = this.accountClaims;
      const jwt = await encodeAccount(name, this.accountPublicKey, { ...nats, revocations }, { signer: this.operatorSigningKey });
      await writePrivateFile(this.layout.accountJwt, jwt + '\n');
      this.account = jwt;
      this.accountClaims = decode<Account>(jwt);
      const pushed = this.updater === undefined ? undefined : await this.updater.push(jwt);
      return { revoked: keys, accountJwt: jwt, ...(pushed !== undefined ? { pushed } : {}) };
    });
  }

  /** Revokes every key issued to `site` that has not expired. */
  revokeSite(site: string): Promise<AccountUpdate> {
    return this.revokeHolder(assertName('site', site));
  }

  /** Revokes every key issued to the aggregation worker `worker` (a principal's name) that has not expired. */
  revokeAggregator(worker: string): Promise<AccountUpdate> {
    return this.revokeHolder(aggregatorHolder(assertName('principal', worker)));
  }

  /** Pushes the current account JWT to the servers (after a failed push, or when a server joins). */
  async publishAccount(): Promise<ClaimsUpdateAck> {
    const updater = this.updater;
    if (updater === undefined) {
      throw TributaryError.of(Reason.NATS_UNAVAILABLE, 'no NATS servers to push the account JWT to: load the authority with `servers`', { code: 'FAILED_PRECONDITION' });
    }
    return this.serially(() => updater.push(this.account));
  }

  /** Closes the system-account connection, if one was opened. */
  async close(): Promise<void> {
    await this.updating.catch(() => undefined);
    await this.updater?.close();
  }

  private async revokeHolder(holder: string): Promise<AccountUpdate> {
    const credentials = await this.ledger.unexpired(holder, Date.now());
    if (credentials.length === 0) return { revoked: [], accountJwt: this.account };
    return this.revokeUsers(credentials.map((c) => c.userPublicKey));
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.updating.catch(() => undefined).then(work);
    this.updating = run;
    return run;
  }

  /**
   * A JWT issued in the second a key was revoked would be born revoked (the server refuses JWTs
   * issued at or before the revocation time): wait for the next second.
   */
  private async afterRevocationOf(userPublicKey: string): Promise<void> {
    const revokedAt = this.accountClaims.nats.revocations?.[userPublicKey];
    if (revokedAt === undefined) return;
    const waitMs = (revokedAt + 1) * 1000 - Date.now();
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
}

/** A credential lifetime within the bounds, or INVALID_ARGUMENT. */
function checkedTtl(ttlMs: number): number {
  if (!Number.isInteger(ttlMs) || ttlMs < MIN_SITE_CREDENTIAL_TTL_MS || ttlMs > MAX_SITE_CREDENTIAL_TTL_MS) {
    throw TributaryError.invalidArgument(`credential ttl ${String(ttlMs)} ms must be a whole number of milliseconds in [${MIN_SITE_CREDENTIAL_TTL_MS}, ${MAX_SITE_CREDENTIAL_TTL_MS}]`);
  }
  return ttlMs;
}

async function readJwt(path: string, subject: string, invalid: (why: string) => Error): Promise<string> {
  const jwt = (await readPrivateFile(path)).trim();
  let claims: ClaimsData<unknown>;
  try {
    claims = decode(jwt);
  } catch (err) {
    throw invalid(`not a valid NATS JWT (${err instanceof Error ? err.message : String(err)})`);
  }
  if (claims.sub !== subject) throw invalid(`the JWT is for ${claims.sub}, expected ${subject}`);
  return jwt;
}

