import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatPublicKey, generateSigningKey, isTributaryError, writeKeyFile } from '@tributary/proto';
import { coordinatorOptionsOf, loadClientConfig, loadServeConfig } from '@tributary/coordinator';
import { nkeys } from 'nats';
import { rejection } from '../helpers/errors.js';

const adminKey = generateSigningKey('admin');
const otherKey = generateSigningKey('other');
const ADMIN_B64 = formatPublicKey(adminKey.publicKey);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configFile(text: string, name = 'tributary.yaml'): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function configError(p: Promise<unknown>): Promise<Error & { code?: string; reason?: string }> {
  const err = await rejection(p);
  expect(isTributaryError(err)).toBe(true);
  return err as Error;
}

describe('loadServeConfig', () => {
  it('applies the defaults when only the admin key is given', async () => {
    const config = await loadServeConfig({ flags: { adminKeys: [ADMIN_B64] }, env: {}, cwd: dir });
    expect(config).toMatchObject({
      dataDir: join(dir, '.tributary'),
      grpcListen: '127.0.0.1:7400',
      nats: ['nats://127.0.0.1:4222'],
      logLevel: 'info',
      metricsPort: 0,
      authSkewSeconds: 300,
      maxUpdateBytes: 1024 ** 3,
    });
    expect(config.tls).toBeUndefined();
    expect(config.adminKeyIds).toEqual([adminKey.keyId]);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('takes a flag over the environment, the environment over the file, and the file over the defaults', async () => {
    const file = await configFile(
      [
        'grpc_listen: 127.0.0.1:7001',
        'nats: nats://file:4222',
        'log_level: warn',
        'metrics_port: 9001',
        `admin_keys: [${ADMIN_B64}]`,
      ].join('\n'),
    );
    const config = await loadServeConfig({
      flags: { grpcListen: '127.0.0.1:7003', config: file },
      env: { TRIBUTARY_GRPC_LISTEN: '127.0.0.1:7002', TRIBUTARY_NATS: 'nats://env:4222', TRIBUTARY_AUTH_SKEW_SECONDS: '1m' },
      cwd: dir,
    });
    expect(config.grpcListen).toBe('127.0.0.1:7003'); // flag > env > file
    expect(config.nats).toEqual(['nats://env:4222']); // env > file
    expect(config.logLevel).toBe('warn'); // file > default
    expect(config.metricsPort).toBe(9001); // file > default
    expect(config.authSkewSeconds).toBe(60); // env > default
    expect(config.maxUpdateBytes).toBe(1024 ** 3); // default
    expect(config.configFile).toBe(file);
  });

  it('finds the config file through TRIBUTARY_CONFIG', async () => {
    const file = await configFile(`data_dir: state\nadmin_keys: [${ADMIN_B64}]\n`);
    const config = await loadServeConfig({ env: { TRIBUTARY_CONFIG: file }, cwd: '/' });
    expect(config.dataDir).toBe(join(dir, 'state'));
  });

  it('resolves key files in the config file against its directory', async () => {
    await writeKeyFile(join(dir, 'admin.key'), adminKey);
    await writeFile(join(dir, 'other.pub'), `${formatPublicKey(otherKey.publicKey)}\n`);
    const file = await configFile('admin_keys:\n  - admin.key\n  - other.pub\n');
    const config = await loadServeConfig({ configFile: file, env: {}, cwd: '/' });
    expect(config.adminKeyIds).toEqual([adminKey.keyId, otherKey.keyId]);
    expect(Buffer.from(config.adminKeys[0] ?? []).equals(Buffer.from(adminKey.publicKey))).toBe(true);
  });

  it('splits comma-separated lists from the environment', async () => {
    const config = await loadServeConfig({
      env: { TRIBUTARY_ADMIN_KEYS: `${ADMIN_B64}, ${formatPublicKey(otherKey.publicKey)}`, TRIBUTARY_NATS: 'nats://a:4222,nats://b:4222' },
      cwd: dir,
    });
    expect(config.adminKeyIds).toEqual([adminKey.keyId, otherKey.keyId]);
    expect(config.nats).toEqual(['nats://a:4222', 'nats://b:4222']);
  });

  it('refuses an unknown key in the config file, naming it', async () => {
    const file = await configFile(`admin_keys: [${ADMIN_B64}]\ngrpc_lisen: 127.0.0.1:7400\n`);
    const err = await configError(loadServeConfig({ configFile: file, env: {}, cwd: dir }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('unknown key "grpc_lisen"');
    expect(err.message).toContain(file);
  });

  it('refuses a config file that is not a mapping', async () => {
    const file = await configFile('- just\n- a list\n');
    const err = await configError(loadServeConfig({ configFile: file, env: {}, cwd: dir }));
    expect(err.message).toContain('expected a mapping');
  });

  it('requires at least one admin key', async () => {
    const err = await configError(loadServeConfig({ env: {}, cwd: dir }));
    expect(err.message).toMatch(/^admin_keys is required/);
  });

  it('names the setting and its source when a value is invalid', async () => {
    const err = await configError(
      loadServeConfig({ flags: { adminKeys: [ADMIN_B64] }, env: { TRIBUTARY_GRPC_LISTEN: 'localhost' }, cwd: dir }),
    );
    expect(err.message).toBe('invalid grpc_listen "localhost" (from TRIBUTARY_GRPC_LISTEN): expected host:port, e.g. 127.0.0.1:7400');
  });

  it('refuses an admin key that is neither base64 nor a readable file', async () => {
    const err = await configError(loadServeConfig({ flags: { adminKeys: ['no-such.key'] }, env: {}, cwd: dir }));
    expect(err.message).toContain('admin_keys "no-such.key" (from --admin-key)');
  });

  it('wants tls_cert and tls_key together', async () => {
    await writeFile(join(dir, 'cert.pem'), 'x');
    const err = await configError(loadServeConfig({ flags: { adminKeys: [ADMIN_B64], tlsCert: 'cert.pem' }, env: {}, cwd: dir }));
    expect(err.message).toContain('tls_cert and tls_key go together');
  });

  it('reads sizes with units', async () => {
    const config = await loadServeConfig({ flags: { adminKeys: [ADMIN_B64], maxUpdateBytes: '256MiB' }, env: {}, cwd: dir });
    expect(config.maxUpdateBytes).toBe(256 * 1024 * 1024);
  });
});

describe('loadServeConfig: NATS credentials and TLS', () => {
  const flags = { adminKeys: [ADMIN_B64] };
  const TOKEN = 'tok-9c1e-secret';

  /** A .creds file as `nsc` writes it: a user JWT and the user's NKEY seed. */
  async function credsFile(name: string, jwt: string): Promise<string> {
    const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
    const text = [
      '-----BEGIN NATS USER JWT-----',
      jwt,
      '------END NATS USER JWT------',
      '',
      '************************* IMPORTANT *************************',
      'NKEY Seed printed below can be used to sign and prove identity.',
      '',
      '-----BEGIN USER NKEY SEED-----',
      seed,
      '------END USER NKEY SEED------',
      '',
    ].join('\n');
    return configFile(text, name);
  }

  it('has no NATS credentials or TLS unless configured', async () => {
    const config = await loadServeConfig({ flags, env: {}, cwd: dir });
    expect(config.natsCredentials).toBeUndefined();
    expect(config.natsTls).toBeUndefined();
    expect(coordinatorOptionsOf(config).natsOptions).toBeUndefined();
  });

  it('asks for stream replicas only when nats_replicas is set', async () => {
    expect(coordinatorOptionsOf(await loadServeConfig({ flags, env: {}, cwd: dir })).streams).toBeUndefined();
    const config = await loadServeConfig({ flags, env: { TRIBUTARY_NATS_REPLICAS: '3' }, cwd: dir });
    expect(coordinatorOptionsOf(config).streams).toEqual({ replicas: 3 });
    await expect(loadServeConfig({ flags: { ...flags, natsReplicas: '7' }, env: {}, cwd: dir })).rejects.toThrow(/nats/i);
  });

  it('takes NATS settings from flags over the environment over the file', async () => {
    const file = await configFile(`admin_keys: [${ADMIN_B64}]\nnats_user: file-user\nnats_password: file-pass\n`);
    const config = await loadServeConfig({
      flags: { config: file, natsPassword: 'flag-pass' },
      env: { TRIBUTARY_NATS_USER: 'env-user', TRIBUTARY_NATS_PASSWORD: 'env-pass' },
      cwd: dir,
    });
    expect(config.natsCredentials).toEqual({ kind: 'user', user: 'env-user', password: 'flag-pass' });
    expect(coordinatorOptionsOf(config).natsOptions).toEqual({ user: 'env-user', pass: 'flag-pass' });
  });

  it('passes a token from TRIBUTARY_NATS_TOKEN to the NATS connection', async () => {
    const config = await loadServeConfig({ flags, env: { TRIBUTARY_NATS_TOKEN: TOKEN }, cwd: dir });
    expect(config.natsCredentials).toEqual({ kind: 'token', token: TOKEN });
    expect(coordinatorOptionsOf(config).natsOptions).toEqual({ token: TOKEN });
  });

  it('takes nats_authority from the file, relative to it, and from --nats-authority and TRIBUTARY_NATS_AUTHORITY', async () => {
    const file = await configFile(`admin_keys: [${ADMIN_B64}]\nnats_authority: nats-authority\n`);
    const fromFile = await loadServeConfig({ configFile: file, env: {}, cwd: '/' });
    expect(fromFile.natsAuthority).toBe(join(dir, 'nats-authority'));
    expect(coordinatorOptionsOf(fromFile).natsAuthority).toBe(join(dir, 'nats-authority'));
    const fromEnv = await loadServeConfig({ configFile: file, env: { TRIBUTARY_NATS_AUTHORITY: '/env/authority' }, cwd: '/' });
    expect(fromEnv.natsAuthority).toBe('/env/authority');
    const fromFlag = await loadServeConfig({ configFile: file, flags: { natsAuthority: 'flag-authority' }, env: { TRIBUTARY_NATS_AUTHORITY: '/env/authority' }, cwd: '/work' });
    expect(fromFlag.natsAuthority).toBe('/work/flag-authority');
  });

  it('reads a .creds file named in the config file, relative to the file, into a credentials authenticator', async () => {
    await credsFile('coordinator.creds', 'eyJ0eXAiOiJKV1QifQ.user-jwt');
    const file = await configFile(`admin_keys: [${ADMIN_B64}]\nnats_creds: coordinator.creds\n`);
    const config = await loadServeConfig({ configFile: file, env: {}, cwd: '/' });
    expect(config.natsCredentials).toMatchObject({ kind: 'creds', credsFile: join(dir, 'coordinator.creds') });
    const authenticator = coordinatorOptionsOf(config).natsOptions?.authenticator;
    expect(typeof authenticator).toBe('function');
    // The authenticator answers the server's nonce with the file's JWT and a signature by its seed.
    const answer = (authenticator as (nonce?: string) => unknown)('server-nonce');
    expect(answer).toMatchObject({ jwt: 'eyJ0eXAiOiJKV1QifQ.user-jwt' });
  });

  it('passes the NATS TLS files as absolute paths', async () => {
    for (const name of ['ca.pem', 'client.pem', 'client.key']) await writeFile(join(dir, name), 'pem');
    const file = await configFile(`admin_keys: [${ADMIN_B64}]\nnats_tls_ca: ca.pem\nnats_tls_cert: client.pem\n`);
    const config = await loadServeConfig({ flags: { config: file, natsTlsKey: 'client.key' }, env: {}, cwd: dir });
    const tls = { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'client.pem'), keyFile: join(dir, 'client.key') };
    expect(config.natsTls).toEqual(tls);
    expect(coordinatorOptionsOf(config).natsOptions).toEqual({ tls });
  });

  it('takes nats_tls_ca alone, with the NATS token', async () => {
    await writeFile(join(dir, 'ca.pem'), 'pem');
    const config = await loadServeConfig({ flags: { ...flags, natsTlsCa: 'ca.pem' }, env: { TRIBUTARY_NATS_TOKEN: TOKEN }, cwd: dir });
    expect(coordinatorOptionsOf(config).natsOptions).toEqual({ token: TOKEN, tls: { caFile: join(dir, 'ca.pem') } });
  });

  it('refuses a token together with a user and password, naming both sources and not the secret', async () => {
    const err = await configError(
      loadServeConfig({ flags: { ...flags, natsUser: 'u', natsPassword: 'p4ss' }, env: { TRIBUTARY_NATS_TOKEN: TOKEN }, cwd: dir }),
    );
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe(
      'invalid nats_token (from TRIBUTARY_NATS_TOKEN): conflicts with nats_user (from --nats-user): set only one of nats_token, nats_user with nats_password, or nats_creds',
    );
    expect(err.message).not.toContain(TOKEN);
  });

  it('refuses a token together with a .creds file', async () => {
    await credsFile('c.creds', 'jwt');
    const file = await configFile(`admin_keys: [${ADMIN_B64}]\nnats_creds: c.creds\n`);
    const err = await configError(loadServeConfig({ flags: { config: file, natsToken: TOKEN }, env: {}, cwd: dir }));
    expect(err.message).toMatch(/^invalid nats_creds \(from config file .*\): conflicts with nats_token \(from --nats-token\)/);
    expect(err.message).not.toContain(TOKEN);
  });

  it('wants nats_user and nats_password together, without showing the password', async () => {
    const err = await configError(loadServeConfig({ flags, env: { TRIBUTARY_NATS_PASSWORD: 'p4ss-word' }, cwd: dir }));
    expect(err.message).toBe('invalid nats_password (from TRIBUTARY_NATS_PASSWORD): nats_user and nats_password go together: set both or neither');
  });

  it('wants nats_tls_cert and nats_tls_key together', async () => {
    await writeFile(join(dir, 'client.pem'), 'pem');
    const err = await configError(loadServeConfig({ flags: { ...flags, natsTlsCert: 'client.pem' }, env: {}, cwd: dir }));
    expect(err.message).toContain('nats_tls_cert and nats_tls_key go together');
  });

  it('refuses NATS files that cannot be read', async () => {
    await mkdir(join(dir, 'a-directory'));
    const missingCreds = await configError(loadServeConfig({ flags: { ...flags, natsCreds: 'missing.creds' }, env: {}, cwd: dir }));
    expect(missingCreds.message).toBe(`invalid nats_creds "missing.creds" (from --nats-creds): cannot read ${join(dir, 'missing.creds')}`);
    const missingCa = await configError(loadServeConfig({ flags, env: { TRIBUTARY_NATS_TLS_CA: 'missing.pem' }, cwd: dir }));
    expect(missingCa.message).toContain('invalid nats_tls_ca "missing.pem" (from TRIBUTARY_NATS_TLS_CA): cannot read');
    const directory = await configError(loadServeConfig({ flags: { ...flags, natsTlsCa: 'a-directory' }, env: {}, cwd: dir }));
    expect(directory.message).toContain('cannot read');
  });

  it('refuses a nats_creds file that is not a NATS credentials file', async () => {
    await writeFile(join(dir, 'not.creds'), 'user: someone\n');
    const err = await configError(loadServeConfig({ flags: { ...flags, natsCreds: 'not.creds' }, env: {}, cwd: dir }));
    expect(err.message).toBe('invalid nats_creds "not.creds" (from --nats-creds): not a NATS credentials file (expected a user JWT and an NKEY seed)');
  });

  it('refuses a blank NATS token in the config file', async () => {
    const file = await configFile(`admin_keys: [${ADMIN_B64}]\nnats_token: "  "\n`);
    const err = await configError(loadServeConfig({ configFile: file, env: {}, cwd: dir }));
    expect(err.message).toBe(`invalid nats_token (from config file ${file}): must not be empty`);
  });
});

describe('loadClientConfig', () => {
  it('defaults to 127.0.0.1:7400 and ./admin.key', () => {
    expect(loadClientConfig({ env: {}, cwd: dir })).toEqual({ coordinator: '127.0.0.1:7400', keyFile: join(dir, 'admin.key') });
  });

  it('takes flags over TRIBUTARY_COORDINATOR and TRIBUTARY_KEY', () => {
    const env = { TRIBUTARY_COORDINATOR: 'env-host:1', TRIBUTARY_KEY: '/keys/env.key' };
    expect(loadClientConfig({ env, cwd: dir })).toEqual({ coordinator: 'env-host:1', keyFile: '/keys/env.key' });
    expect(loadClientConfig({ flags: { coordinator: 'flag-host:2', key: 'mine.key' }, env, cwd: dir })).toEqual({
      coordinator: 'flag-host:2',
      keyFile: join(dir, 'mine.key'),
    });
  });

  it('connects with TLS when a CA is given: --tls-ca over TRIBUTARY_TLS_CA, relative to the working directory', async () => {
    await writeFile(join(dir, 'flag-ca.pem'), 'pem');
    await writeFile(join(dir, 'env-ca.pem'), 'pem');
    const env = { TRIBUTARY_TLS_CA: 'env-ca.pem' };
    expect(loadClientConfig({ env, cwd: dir }).tls).toEqual({ caFile: join(dir, 'env-ca.pem') });
    expect(loadClientConfig({ flags: { tlsCa: 'flag-ca.pem' }, env, cwd: dir }).tls).toEqual({ caFile: join(dir, 'flag-ca.pem') });
  });

  it('takes a client certificate and key for mutual TLS from TRIBUTARY_TLS_CERT and TRIBUTARY_TLS_KEY', async () => {
    for (const name of ['ca.pem', 'client.pem', 'client.key']) await writeFile(join(dir, name), 'pem');
    const config = loadClientConfig({ flags: { tlsCa: 'ca.pem' }, env: { TRIBUTARY_TLS_CERT: 'client.pem', TRIBUTARY_TLS_KEY: 'client.key' }, cwd: dir });
    expect(config.tls).toEqual({ caFile: join(dir, 'ca.pem'), certFile: join(dir, 'client.pem'), keyFile: join(dir, 'client.key') });
  });

  it('wants tls_cert and tls_key together', async () => {
    await writeFile(join(dir, 'client.key'), 'pem');
    expect(() => loadClientConfig({ flags: { tlsKey: 'client.key' }, env: {}, cwd: dir })).toThrow(
      'invalid tls_key "client.key" (from --tls-key): tls_cert and tls_key go together: set both or neither',
    );
  });

  it('refuses a TLS file that cannot be read', () => {
    expect(() => loadClientConfig({ env: { TRIBUTARY_TLS_CA: 'missing.pem' }, cwd: dir })).toThrow(
      `invalid tls_ca "missing.pem" (from TRIBUTARY_TLS_CA): cannot read ${join(dir, 'missing.pem')}`,
    );
  });

  it('refuses an address without a port', () => {
    expect(() => loadClientConfig({ flags: { coordinator: 'example.org' }, env: {}, cwd: dir })).toThrow(
      'invalid coordinator "example.org" (from --coordinator)',
    );
  });
});
