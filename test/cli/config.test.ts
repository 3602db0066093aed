import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatPublicKey, generateSigningKey, isTributaryError, writeKeyFile } from '@tributary/proto';
import { loadClientConfig, loadServeConfig } from '@tributary/coordinator';
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

  it('refuses an address without a port', () => {
    expect(() => loadClientConfig({ flags: { coordinator: 'example.org' }, env: {}, cwd: dir })).toThrow(
      'invalid coordinator "example.org" (from --coordinator)',
    );
  });
});
