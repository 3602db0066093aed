import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { createServer, connect as connectTcp, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SiteClient } from '@tributary/client-sdk';
import { AdminClient, loadServeConfig } from '@tributary/coordinator';
import { encodeSafetensors, formatPublicKey, generateSigningKey, readKeyFile, writeKeyFile } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeOf, runCli, startCli, type CliProcess } from '../helpers/cli.js';
import { rejection } from '../helpers/errors.js';
import { toyModel, toyTrain } from '../helpers/training.js';
import { startSiteAgent } from '../site-agent/helpers.js';

/** openssl is a Debian package; without it these suites are skipped, and nothing is installed. */
const opensslAvailable = ((): boolean => {
  const probe = spawnSync('openssl', ['version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
})();

describe('TLS by default outside loopback', () => {
  let dir: string;
  const adminKey = generateSigningKey('admin');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-tls-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to serve plaintext gRPC on 0.0.0.0, with a hint about TLS and --insecure', async () => {
    const r = await runCli(['serve', '--json', '--grpc-listen', '0.0.0.0:0', '--data-dir', join(dir, 'data'), '--admin-key', formatPublicKey(adminKey.publicKey)]);
    expect(r.code).not.toBe(0);
    const { ok, error } = envelopeOf(r);
    expect(ok).toBe(false);
    expect(error?.code).toBe('INSECURE_LISTEN');
    expect(error?.message).toContain('0.0.0.0:0');
    expect(error?.hint).toContain('--tls-cert');
    expect(error?.hint).toContain('tributary tls init');
    expect(error?.hint).toContain('--insecure');
  });

  it('accepts plaintext on a non-loopback address when told --insecure', async () => {
    const config = await loadServeConfig({ flags: { grpcListen: '0.0.0.0:7400', insecure: true, adminKeys: [formatPublicKey(adminKey.publicKey)] }, env: {}, cwd: dir });
    expect(config).toMatchObject({ grpcListen: '0.0.0.0:7400', insecure: true });
  });

  it('serves plaintext on loopback addresses without being told', async () => {
    for (const listen of ['127.0.0.1:7400', 'localhost:7400', '[::1]:7400']) {
      const config = await loadServeConfig({ flags: { grpcListen: listen, adminKeys: [formatPublicKey(adminKey.publicKey)] }, env: {}, cwd: dir });
      expect(config.insecure).toBe(false);
    }
  });
});

describe.skipIf(!opensslAvailable)('tributary tls init and dev --tls', () => {
  let dir: string;
  let dev: CliProcess | undefined;
  let address = '';
  let caFile = '';
  let keyFile = '';
  let natsUrl = '';
  let admin: AdminClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-dev-tls-'));
    dev = await startCli(['dev', '--tls', '--dir', join(dir, 'dev'), '--grpc-listen', '127.0.0.1:0', '--json']);
    const started = JSON.parse(dev.firstLine) as { ok: boolean; result: { exports: Record<string, string>; tlsCa: string } };
    expect(started.ok).toBe(true);
    address = started.result.exports['TRIBUTARY_COORDINATOR'] ?? '';
    caFile = started.result.exports['TRIBUTARY_TLS_CA'] ?? '';
    keyFile = started.result.exports['TRIBUTARY_KEY'] ?? '';
    natsUrl = started.result.exports['TRIBUTARY_NATS'] ?? '';
    admin = new AdminClient({ address, key: await readKeyFile(keyFile), credentials: grpc.credentials.createSsl(await readFile(caFile)) });
  });
  afterAll(async () => {
    admin?.close();
    await dev?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('makes a CA and certificates for the coordinator and NATS, valid for loopback and the given hosts, files 0600 in a 0700 directory', async () => {
    const out = join(dir, 'certs');
    const r = await runCli(['tls', 'init', '--json', '--dir', out, '--host', 'coordinator.example.org', '--host', '10.1.2.3']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await stat(out)).mode & 0o777).toBe(0o700);
    for (const name of await readdir(out)) expect({ name, mode: (await stat(join(out, name))).mode & 0o777 }).toEqual({ name, mode: 0o600 });
    const ca = new X509Certificate(await readFile(join(out, 'ca.pem')));
    for (const cert of ['coordinator.pem', 'nats.pem']) {
      const x = new X509Certificate(await readFile(join(out, cert)));
      expect(x.verify(ca.publicKey)).toBe(true);
      expect(x.subjectAltName).toContain('DNS:localhost');
      expect(x.subjectAltName).toContain('IP Address:127.0.0.1');
      expect(x.subjectAltName).toContain('DNS:coordinator.example.org');
      expect(x.subjectAltName).toContain('IP Address:10.1.2.3');
    }
  });

  it('refuses to make a second CA over the first', async () => {
    const r = await runCli(['tls', 'init', '--json', '--dir', join(dir, 'certs')]);
    expect(envelopeOf(r).error?.code).toBe('ALREADY_EXISTS');
  });

  it('runs a round with an SDK site over TLS gRPC and TLS NATS', async () => {
    await admin.createFederation({ name: 'secure', settings: { strategy: 'fedavg', rounds: 1, minSites: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(toyModel()) });
    const key = generateSigningKey('site-a');
    await admin.addSite({ name: 'site-a', publicKey: key.publicKey, federations: ['secure'] });
    const client = await SiteClient.connect({
      coordinator: address,
      nats: natsUrl,
      key,
      tls: { caFile },
      natsAuth: { tls: { caFile } },
    });
    try {
      const done = client.participate('secure', async (task) => ({ weights: toyTrain(task.model, client.site, task.round), numExamples: 10 }), { maxTasks: 1 });
      const run = await admin.startRun('secure');
      expect((await admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
      await done;
    } finally {
      await client.close();
    }
  });

  it('lets the CLI work over TLS with the CA from the environment, without Node warnings', async () => {
    const r = await runCli(['federation', 'list', '--json'], { env: { TRIBUTARY_COORDINATOR: address, TRIBUTARY_KEY: keyFile, TRIBUTARY_TLS_CA: caFile } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((envelopeOf(r).result as Array<{ name: string }>).map((f) => f.name)).toContain('secure');
    expect(r.stderr).not.toContain('DEP0123');
    expect(r.stderr).not.toContain('Warning');
  });

  it('refuses a client that trusts another CA', async () => {
    const r = await runCli(['federation', 'list', '--json', '--coordinator', address, '--key', keyFile, '--tls-ca', join(dir, 'certs', 'ca.pem')]);
    expect(r.code).toBe(1);
    expect(envelopeOf(r).error?.code).toBe('UNAVAILABLE');
    const other = new AdminClient({ address, key: await readKeyFile(keyFile), credentials: grpc.credentials.createSsl(await readFile(join(dir, 'certs', 'ca.pem'))), callTimeoutMs: 10_000 });
    try {
      expect(await rejection(other.listFederations())).toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      other.close();
    }
  });

  it('refuses an SDK site that trusts another CA', async () => {
    const key = generateSigningKey('site-b');
    await admin.addSite({ name: 'site-b', publicKey: key.publicKey, federations: ['secure'] });
    const err = await rejection(SiteClient.connect({ coordinator: address, nats: natsUrl, key, tls: { caFile: join(dir, 'certs', 'ca.pem') }, natsAuth: { tls: { caFile } }, retry: { maxAttempts: 1 } }));
    expect(err).toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('refuses a plaintext client', async () => {
    const r = await runCli(['federation', 'list', '--json', '--coordinator', address, '--key', keyFile]);
    expect(r.code).toBe(1);
    expect(envelopeOf(r).error?.hint).toContain('--tls-ca');
  });

  describe('by IP address', () => {
    /** The coordinator as 127.0.0.1:PORT, an IP its certificate names. */
    let byIp = '';
    let siteKeyFile = '';
    /** Passes TCP through from 127.0.0.2 to the coordinator: the same server, at an IP its certificate does not name. */
    let relay: Server;
    let relayed = '';

    beforeAll(async () => {
      byIp = `127.0.0.1:${address.slice(address.lastIndexOf(':') + 1)}`;
      const key = generateSigningKey('site-ip');
      await admin.addSite({ name: 'site-ip', publicKey: key.publicKey, federations: ['secure'] });
      siteKeyFile = join(dir, 'site-ip.key');
      await writeKeyFile(siteKeyFile, key);
      const [host, port] = [byIp.slice(0, byIp.lastIndexOf(':')), Number(byIp.slice(byIp.lastIndexOf(':') + 1))];
      relay = createServer((inbound) => {
        const outbound = connectTcp(port, host);
        inbound.pipe(outbound).pipe(inbound);
        inbound.on('error', () => outbound.destroy());
        outbound.on('error', () => inbound.destroy());
      });
      await new Promise<void>((resolve) => relay.listen(0, '127.0.0.2', resolve));
      relayed = `127.0.0.2:${(relay.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((resolve) => relay?.close(resolve));
    });

    it('lets the CLI call a coordinator named by IP, without the DEP0123 warning', async () => {
      const r = await runCli(['federation', 'list', '--json', '--coordinator', byIp, '--key', keyFile, '--tls-ca', caFile], { withoutOuterSettings: true });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect((envelopeOf(r).result as Array<{ name: string }>).map((f) => f.name)).toContain('secure');
      expect(r.stderr).not.toContain('DEP0123');
    });

    it('lets a site reach the coordinator and NATS by IP over TLS, without the DEP0123 warning', async () => {
      expect(natsUrl).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
      const site = startSiteAgent(['check', '--json', '--key', siteKeyFile, '--coordinator', byIp, '--nats', natsUrl, '--federation', 'secure'], { TRIBUTARY_TLS_CA: caFile });
      expect(await site.exited, site.stdout() + site.stderr()).toBe(0);
      const checks = (envelopeOf({ code: 0, stdout: site.stdout(), stderr: '' }).result as { checks: Array<{ check: string; ok: boolean }> }).checks;
      expect(checks.map((c) => c.check)).toEqual(['key file', 'coordinator (gRPC)', 'WhoAmI', 'federation membership', 'NATS']);
      expect(site.stderr()).not.toContain('DEP0123');
    });

    it('refuses the coordinator at an IP address its certificate does not name', async () => {
      const r = await runCli(['federation', 'list', '--json', '--coordinator', relayed, '--key', keyFile, '--tls-ca', caFile], { withoutOuterSettings: true });
      expect(r.code).toBe(1);
      expect(envelopeOf(r).error?.code).toBe('UNAVAILABLE');
      const site = startSiteAgent(['check', '--key', siteKeyFile, '--coordinator', relayed, '--nats', natsUrl, '--tls-ca', caFile]);
      expect(await site.exited).toBe(1);
      expect(site.stdout()).toMatch(/coordinator \(gRPC\)\s+FAIL .*IP: 127\.0\.0\.2 is not in the cert's list/);
      expect(site.stderr()).not.toContain('DEP0123');
    });
  });

  describe('tributary-site with a CA that did not sign the servers', () => {
    it('check names the refused certificate and what to do', async () => {
      const other = join(dir, 'certs', 'ca.pem');
      const site = startSiteAgent(['check', '--key', keyFile, '--coordinator', address, '--nats', natsUrl, '--tls-ca', other]);
      expect(await site.exited).toBe(1);
      expect(site.stdout()).toContain('coordinator (gRPC)  FAIL');
      expect(site.stdout()).toContain(`its certificate was refused: --tls-ca (${other}) must be the CA that signed it`);
    });

    it('run is refused before it waits for tasks, with the same hint', async () => {
      const other = join(dir, 'certs', 'ca.pem');
      const site = startSiteAgent(['run', '--json', '--key', keyFile, '--coordinator', address, '--nats', natsUrl, '--federation', 'secure', '--', 'true'], { TRIBUTARY_TLS_CA: other });
      expect(await site.exited).toBe(1);
      const { error } = envelopeOf({ code: 1, stdout: site.stdout(), stderr: '' });
      expect(error?.code).toBe('UNAVAILABLE');
      expect(error?.message).toContain('cannot reach the coordinator');
      expect(error?.hint).toContain('its certificate was refused');
      expect(site.stderr()).not.toContain('tributary-site: site');
    });
  });
});
