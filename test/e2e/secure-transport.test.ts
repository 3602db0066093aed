import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { compileSiteClientOptions, SiteClient, type SiteClientOptions } from '@tributary/client-sdk';
import { AdminClient, Coordinator, coordinatorOptionsOf, loadServeConfig, NatsServer } from '@tributary/coordinator';
import { encodeSafetensors, formatPublicKey, generateSigningKey, isTributaryError, readKeyFile, writeKeyFile, type SigningKey } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeOf, runCli, startCli, type CliProcess } from '../helpers/cli.js';
import { caught, rejection } from '../helpers/errors.js';
import { toyModel, toyTrain } from '../helpers/training.js';

const TOKEN = 's3cret-nats-token-7f2c';

/** openssl is a Debian package; without it the suite is skipped, and nothing is installed. */
const opensslAvailable = ((): boolean => {
  const probe = spawnSync('openssl', ['version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
})();

interface Certificates {
  caFile: string;
  certFile: string;
  keyFile: string;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0] ?? ''} failed: ${r.stderr}`);
}

/** A throwaway CA and a server certificate for 127.0.0.1 and localhost, signed by it. */
async function makeCertificates(dir: string): Promise<Certificates> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=tributary-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  await writeFile(
    join(dir, 'server.ext'),
    ['subjectAltName=IP:127.0.0.1,DNS:localhost', 'basicConstraints=CA:FALSE', 'keyUsage=digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth'].join('\n'),
  );
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'server.ext'], dir);
  return { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key') };
}

describe.skipIf(!opensslAvailable)('transport security: gRPC over TLS, NATS with a token over TLS', () => {
  let dir: string;
  let certs: Certificates;
  let nats: NatsServer;
  let serve: CliProcess | undefined;
  let address: string;
  let adminKey: SigningKey;
  let adminKeyFile: string;
  let admin: AdminClient;
  let grpcTls: grpc.ChannelCredentials;
  /** As `serve --json` printed it. */
  let coordinatorKeyId = '';

  /** `tributary serve` against the secured NATS: the token from the environment, the CA as a flag. */
  function serveArgs(dataDir: string): string[] {
    return [
      'serve', '--json', '--log-level', 'debug',
      '--data-dir', dataDir,
      '--grpc-listen', '127.0.0.1:0',
      '--nats', nats.url,
      '--nats-tls-ca', certs.caFile,
      '--tls-cert', certs.certFile,
      '--tls-key', certs.keyFile,
      '--admin-key', formatPublicKey(adminKey.publicKey),
    ];
  }

  function siteOptions(key: SigningKey, natsAuth: SiteClientOptions['natsAuth']): SiteClientOptions {
    return { coordinator: address, nats: nats.url, key, credentials: grpcTls, ...(natsAuth === undefined ? {} : { natsAuth }) };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-secure-'));
    certs = await makeCertificates(dir);
    nats = await NatsServer.start({ storeDir: join(dir, 'nats'), auth: { token: TOKEN }, tls: { certFile: certs.certFile, keyFile: certs.keyFile } });
    adminKey = generateSigningKey('admin');
    adminKeyFile = join(dir, 'admin.key');
    await writeKeyFile(adminKeyFile, adminKey);
    grpcTls = grpc.credentials.createSsl(await readFile(certs.caFile));

    serve = await startCli(serveArgs(join(dir, 'data')), { env: { TRIBUTARY_NATS_TOKEN: TOKEN } });
    const started = JSON.parse(serve.firstLine) as { ok: boolean; result: { address: string; tls: boolean; natsAuth: string; natsTls: boolean; coordinatorKeyId: string } };
    expect(started.result).toMatchObject({ tls: true, natsAuth: 'token', natsTls: true });
    address = started.result.address;
    coordinatorKeyId = started.result.coordinatorKeyId;
    admin = new AdminClient({ address, key: adminKey, credentials: grpcTls });
  });

  afterAll(async () => {
    admin?.close();
    await serve?.stop();
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a federation to the end with a site on TLS gRPC and token-authenticated TLS NATS', async () => {
    await admin.createFederation({
      name: 'secure',
      settings: { strategy: 'fedavg', rounds: 1, minSites: 1, roundDeadlineSeconds: 60 },
      initialModel: encodeSafetensors(toyModel()),
    });
    const key = generateSigningKey('site-a');
    await admin.addSite({ name: 'site-a', publicKey: key.publicKey, federations: ['secure'] });
    const client = await SiteClient.connect(siteOptions(key, { token: TOKEN, tls: { caFile: certs.caFile } }));
    try {
      const done = client.participate(
        'secure',
        async (task) => ({ weights: toyTrain(task.model, client.site, task.round), numExamples: 10 }),
        { maxTasks: 1 },
      );
      const run = await admin.startRun('secure');
      const ended = await admin.waitForRun(run.id);
      await done;
      expect(ended.status).toBe('RUN_STATUS_FINISHED');
      expect((await admin.listModelVersions('secure')).map((v) => v.version)).toEqual([1, 2]);
    } finally {
      await client.close();
    }
  });

  it('prints the key id of the coordinator key, kept in the data directory', async () => {
    expect(coordinatorKeyId).toBe((await readKeyFile(join(dir, 'data', 'coordinator.key'))).keyId);
  });

  it('refuses a site without the NATS token with PERMISSION_DENIED', async () => {
    const key = generateSigningKey('site-b');
    await admin.addSite({ name: 'site-b', publicKey: key.publicKey, federations: ['secure'] });
    const err = await rejection(SiteClient.connect(siteOptions(key, { tls: { caFile: certs.caFile } })));
    expect(isTributaryError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect((err as Error).message).toMatch(/^NATS at .* refused the site's credentials/);
  });

  it('refuses a site with a wrong NATS token with PERMISSION_DENIED', async () => {
    const key = generateSigningKey('site-c');
    await admin.addSite({ name: 'site-c', publicKey: key.publicKey, federations: ['secure'] });
    const err = await rejection(SiteClient.connect(siteOptions(key, { token: 'not-the-token', tls: { caFile: certs.caFile } })));
    expect(err).toMatchObject({ code: 'PERMISSION_DENIED' });
  });

  it('refuses a site that does not trust the NATS server certificate with UNAVAILABLE', async () => {
    const key = generateSigningKey('site-d');
    await admin.addSite({ name: 'site-d', publicKey: key.publicKey, federations: ['secure'] });
    const err = await rejection(SiteClient.connect(siteOptions(key, { token: TOKEN })));
    expect(err).toMatchObject({ code: 'UNAVAILABLE' });
    expect((err as Error).message).toMatch(/^cannot connect to NATS at .*certificate/);
  });

  it('lets the admin CLI list federations over TLS with --tls-ca', async () => {
    const r = await runCli(['federation', 'list', '--json', '--coordinator', address, '--key', adminKeyFile, '--tls-ca', certs.caFile]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const names = (envelopeOf(r).result as Array<{ name: string }>).map((f) => f.name);
    expect(names).toContain('secure');
  });

  it('takes the CA from TRIBUTARY_TLS_CA', async () => {
    const r = await runCli(['federation', 'list', '--json'], {
      env: { TRIBUTARY_COORDINATOR: address, TRIBUTARY_KEY: adminKeyFile, TRIBUTARY_TLS_CA: certs.caFile },
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('fails clearly when the admin CLI connects to the TLS coordinator without the CA', async () => {
    const r = await runCli(['federation', 'list', '--json', '--coordinator', address, '--key', adminKeyFile]);
    expect(r.code).toBe(1);
    const { ok, error } = envelopeOf(r);
    expect(ok).toBe(false);
    expect(error?.code).toBe('UNAVAILABLE');
    expect(error?.message).toContain(`cannot reach the coordinator at ${address}`);
    expect(error?.hint).toContain('--tls-ca');
  });

  it('stops a coordinator without the NATS token at start, with NATS_AUTH_FAILED', async () => {
    const r = await runCli(serveArgs(join(dir, 'data-without-token')), { env: { TRIBUTARY_NATS_TOKEN: '' } });
    expect(r.code).toBe(1);
    const { error } = envelopeOf(r);
    expect(error?.code).toBe('NATS_AUTH_FAILED');
    expect(error?.hint).toContain('nats_token');
  });

  it('stops a coordinator that does not trust the NATS server certificate, with NATS_UNAVAILABLE and a hint about nats_tls_ca', async () => {
    const err = await rejection(
      Coordinator.start({ dataDir: join(dir, 'data-untrusted'), nats: nats.url, natsOptions: { token: TOKEN }, adminKeys: [adminKey.publicKey], grpcListen: '127.0.0.1:0' }),
    );
    expect(err).toMatchObject({ code: 'UNAVAILABLE', reason: 'NATS_UNAVAILABLE' });
    expect((err as { details?: { hint?: string } }).details?.hint).toContain('nats_tls_ca');
  });

  it('never writes the NATS token to the coordinator output, even at debug level', () => {
    expect(serve?.output()).toContain('coordinator listening');
    expect(serve?.output()).not.toContain(TOKEN);
  });
});

describe('a coordinator on a NATS server that wants a user and password', () => {
  let dir: string;
  let nats: NatsServer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-nats-user-'));
    nats = await NatsServer.start({ storeDir: join(dir, 'nats'), auth: { user: 'coordinator', password: 'pa55-word' } });
  });
  afterAll(async () => {
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('connects with nats_user and nats_password from the config', async () => {
    const config = await loadServeConfig({
      flags: { adminKeys: [formatPublicKey(generateSigningKey('admin').publicKey)], dataDir: 'data', grpcListen: '127.0.0.1:0', nats: nats.url, natsUser: 'coordinator' },
      env: { TRIBUTARY_NATS_PASSWORD: 'pa55-word' },
      cwd: dir,
    });
    const coordinator = await Coordinator.start(coordinatorOptionsOf(config));
    await coordinator.close();
  });

  it('fails to start with NATS_AUTH_FAILED on a wrong password', async () => {
    const config = await loadServeConfig({
      flags: { adminKeys: [formatPublicKey(generateSigningKey('admin').publicKey)], dataDir: 'data-2', grpcListen: '127.0.0.1:0', nats: nats.url, natsUser: 'coordinator', natsPassword: 'wrong' },
      env: {},
      cwd: dir,
    });
    const err = await rejection(Coordinator.start(coordinatorOptionsOf(config)));
    expect(err).toMatchObject({ code: 'PERMISSION_DENIED', reason: 'NATS_AUTH_FAILED' });
  });
});

describe('SiteClientOptions.natsAuth, checked before connecting', () => {
  const base: SiteClientOptions = { coordinator: '127.0.0.1:7400', nats: 'nats://127.0.0.1:4222', key: '/etc/tributary/site.key' };
  let dir: string;
  let caFile: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-nats-auth-'));
    caFile = join(dir, 'ca.pem');
    await writeFile(caFile, 'pem');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function message(natsAuth: unknown): string {
    const err = caught(() => compileSiteClientOptions({ ...base, natsAuth } as SiteClientOptions));
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
    return (err as Error).message;
  }

  it('keeps the credentials and TLS files, frozen', () => {
    const o = compileSiteClientOptions({ ...base, natsAuth: { user: 'site-a', pass: 'pw', tls: { caFile } } });
    expect(o.natsAuth).toEqual({ user: 'site-a', pass: 'pw', tls: { caFile } });
    expect(Object.isFrozen(o.natsAuth)).toBe(true);
    expect(compileSiteClientOptions(base).natsAuth).toBeUndefined();
  });

  it('refuses more than one kind of credentials', () => {
    expect(message({ user: 'u', pass: 'p', token: 't' })).toBe(
      'invalid SiteClientOptions.natsAuth: expected at most one of token, user with pass, or credsFile, got user/pass and token',
    );
  });

  it('wants user and pass together', () => {
    expect(message({ user: 'u' })).toBe('invalid SiteClientOptions.natsAuth.pass: expected a password with natsAuth.user, got undefined');
    expect(message({ pass: 'p' })).toBe('invalid SiteClientOptions.natsAuth.user: expected a user name with natsAuth.pass, got undefined');
  });

  it('refuses files that cannot be read', () => {
    expect(message({ credsFile: join(dir, 'missing.creds') })).toBe(
      `invalid SiteClientOptions.natsAuth.credsFile: expected the path of a readable file, got ${JSON.stringify(join(dir, 'missing.creds'))}`,
    );
    expect(message({ tls: { caFile: dir } })).toMatch(/^invalid SiteClientOptions\.natsAuth\.tls\.caFile: expected the path of a readable file/);
    expect(message({ tls: { certFile: caFile } })).toBe(
      'invalid SiteClientOptions.natsAuth.tls.keyFile: expected a key file with natsAuth.tls.certFile, got undefined',
    );
  });

  it('refuses a misspelt key, which would connect without credentials', () => {
    expect(message({ user: 'u', password: 'p' })).toBe(
      'invalid SiteClientOptions.natsAuth: expected only the keys user, pass, token, credsFile, tls, got "password"',
    );
  });

  it('never shows a secret in the error', () => {
    expect(message({ token: 12345 })).toBe('invalid SiteClientOptions.natsAuth.token: expected a non-empty string, got a number (not shown)');
    expect(message({ user: 'u', pass: '' })).toBe('invalid SiteClientOptions.natsAuth.pass: expected a non-empty string, got ""');
  });
});
