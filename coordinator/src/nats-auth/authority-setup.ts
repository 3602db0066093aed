import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';
import { createAccount, createOperator, createUser, type KeyPair } from '@nats-io/nkeys';
import { Reason, TributaryError } from '@tributary/proto';
import { DEFAULT_JETSTREAM_LIMITS, jetStreamLimitsProblem, systemAccountClaims, tributaryAccountClaims, type AccountJetStreamLimits } from './account-claims.js';
import { AuthorityLayout, makePrivateDir, writePrivateFile } from './authority-layout.js';
import { encodeAuthoritySecrets, encodeIdentityKeys } from './authority-secrets.js';
import { coordinatorPermissions } from './permissions.js';
import { standaloneServerConfig } from './server-config.js';

export interface NatsAuthoritySetup {
  /** Directory to write into: created 0700; refused if it already holds an authority. */
  readonly dir: string;
  /** @default "tributary" */
  readonly operatorName?: string;
  /** @default "TRIBUTARY" */
  readonly accountName?: string;
  /** JetStream limits of the Tributary account. @default unlimited */
  readonly jetstream?: Partial<AccountJetStreamLimits>;
  /** `listen` of the written nats-server configuration. @default "127.0.0.1:4222" */
  readonly listen?: string;
  /** JetStream `store_dir` of the written configuration. @default "<dir>/jetstream" */
  readonly storeDir?: string;
}

/** What `createNatsAuthority` wrote. */
export interface NatsAuthorityFiles {
  readonly dir: string;
  readonly serverConfig: string;
  readonly secrets: string;
  readonly identityKeys: string;
  readonly coordinatorCreds: string;
  readonly systemCreds: string;
  readonly operatorPublicKey: string;
  readonly systemAccountPublicKey: string;
  readonly accountPublicKey: string;
}

const SYSTEM_ACCOUNT_NAME = 'SYS';
const LISTEN = /^[^\s"{}]+:\d{1,5}$/;

/**
 * Creates a NATS operator (identity key and signing key), the system account and the Tributary
 * account (JetStream on, with an account signing key), the coordinator's and a system user, and
 * writes them into `dir` with a nats-server configuration that trusts them.
 */
export async function createNatsAuthority(setup: NatsAuthoritySetup): Promise<NatsAuthorityFiles> {
  const layout = new AuthorityLayout(setup.dir);
  const jetstream = { ...DEFAULT_JETSTREAM_LIMITS, ...setup.jetstream };
  const problem = jetStreamLimitsProblem(jetstream);
  if (problem !== undefined) throw TributaryError.invalidArgument(`JetStream limits: ${problem}`);
  const listen = setup.listen ?? '127.0.0.1:4222';
  if (!LISTEN.test(listen)) throw TributaryError.invalidArgument(`listen ${JSON.stringify(listen)} must be host:port`);
  const operatorName = setup.operatorName ?? 'tributary';
  const accountName = setup.accountName ?? 'TRIBUTARY';

  const operator = createOperator();
  const operatorSigning = createOperator();
  const systemAccount = createAccount();
  const account = createAccount();
  const accountSigning = createAccount();
  const operatorJwt = await encodeOperator(operatorName, operator, {
    signing_keys: [operatorSigning.getPublicKey()],
    system_account: systemAccount.getPublicKey(),
  });
  // Accounts are signed by the operator's signing key, as every later update will be.
  const systemAccountJwt = await encodeAccount(SYSTEM_ACCOUNT_NAME, systemAccount.getPublicKey(), systemAccountClaims(), { signer: operatorSigning });
  const accountJwt = await encodeAccount(accountName, account.getPublicKey(), tributaryAccountClaims({ signingKey: accountSigning.getPublicKey(), jetstream }), {
    signer: operatorSigning,
  });
  const coordinator = createUser();
  const coordinatorJwt = await encodeUser('coordinator', coordinator, account.getPublicKey(), { ...coordinatorPermissions(), allowed_connection_types: ['STANDARD'] }, { signer: accountSigning });
  const system = createUser();
  const systemJwt = await encodeUser('tributary-system', system, systemAccount);

  await makePrivateDir(layout.dir);
  // Checked first, so a second init never replaces the keys every credential hangs on.
  await writePrivateFile(
    layout.secrets,
    encodeAuthoritySecrets({
      operator: { name: operatorName, publicKey: operator.getPublicKey(), signingKeySeed: seedOf(operatorSigning) },
      systemAccount: { name: SYSTEM_ACCOUNT_NAME, publicKey: systemAccount.getPublicKey() },
      account: { name: accountName, publicKey: account.getPublicKey(), signingKeySeed: seedOf(accountSigning) },
    }),
    { exclusive: true },
  ).catch((err: unknown) => {
    if (TributaryError.from(err).code !== 'ALREADY_EXISTS') throw err;
    throw TributaryError.of(Reason.ALREADY_EXISTS, `${layout.dir} already holds a NATS authority`, {
      cause: err,
      details: { hint: 'Choose another --dir: a new authority would invalidate every credential issued by this one.' },
    });
  });
  await writePrivateFile(
    layout.identityKeys,
    encodeIdentityKeys({
      operator: { publicKey: operator.getPublicKey(), seed: seedOf(operator) },
      systemAccount: { publicKey: systemAccount.getPublicKey(), seed: seedOf(systemAccount) },
      account: { publicKey: account.getPublicKey(), seed: seedOf(account) },
    }),
  );
  await writePrivateFile(layout.operatorJwt, operatorJwt + '\n');
  await writePrivateFile(layout.systemAccountJwt, systemAccountJwt + '\n');
  await writePrivateFile(layout.accountJwt, accountJwt + '\n');
  await writePrivateFile(layout.coordinatorCreds, fmtCreds(coordinatorJwt, coordinator));
  await writePrivateFile(layout.systemCreds, fmtCreds(systemJwt, system));
  await makePrivateDir(layout.resolverDir);
  await writePrivateFile(
    layout.serverConfig,
    standaloneServerConfig({
      listen,
      storeDir: setup.storeDir ?? layout.storeDir,
      operatorJwt,
      systemAccountPublicKey: systemAccount.getPublicKey(),
      accounts: { [systemAccount.getPublicKey()]: systemAccountJwt, [account.getPublicKey()]: accountJwt },
      resolverDir: layout.resolverDir,
    }),
  );
  return {
    dir: layout.dir,
    serverConfig: layout.serverConfig,
    secrets: layout.secrets,
    identityKeys: layout.identityKeys,
    coordinatorCreds: layout.coordinatorCreds,
    systemCreds: layout.systemCreds,
    operatorPublicKey: operator.getPublicKey(),
    systemAccountPublicKey: systemAccount.getPublicKey(),
    accountPublicKey: account.getPublicKey(),
  };
}

function seedOf(kp: KeyPair): string {
  return new TextDecoder().decode(kp.getSeed());
}

