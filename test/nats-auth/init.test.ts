import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsAuthority, NatsServer } from '@tributary/coordinator';
import { freePort } from '../../coordinator/src/dev/nats-server.js';
import { STREAM_UPDATES, subjects } from '@tributary/proto';
import { connect, credsAuthenticator } from 'nats';
import { ensureStreams } from '../../coordinator/src/ingest/streams.js';
import { envelopeOf, runCli } from '../helpers/cli.js';
import { SiteConnection } from '../helpers/operator-nats.js';

interface InitResult {
  dir: string;
  serverConfig: string;
  coordinatorCreds: string;
  accountPublicKey: string;
}

describe.skipIf(!NatsServer.available())('tributary nats init', () => {
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'tributary-nats-init-'));
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('writes an owner-only authority whose nats-server config runs the data plane', async () => {
    const port = await freePort();
    const dir = join(work, 'authority');
    const run = await runCli(['nats', 'init', '--dir', dir, '--listen', `127.0.0.1:${port}`, '--js-max-disk', '1GiB', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const result = envelopeOf<InitResult>(run).result as InitResult;
    expect(result.dir).toBe(dir);

    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    for (const name of await readdir(dir)) {
      const s = await stat(join(dir, name));
      expect(s.mode & 0o777, name).toBe(s.isDirectory() ? 0o700 : 0o600);
    }

    const server = await startNatsServer(result.serverConfig, port);
    try {
      const url = `nats://127.0.0.1:${port}`;
      const authority = await NatsAuthority.load({ dir, servers: [url] });
      const coordinator = await connect({ servers: [url], authenticator: credsAuthenticator(await authority.coordinatorCreds()) });
      await ensureStreams(await coordinator.jetstreamManager());
      const site = await authority.issueSiteCredentials({ site: 'clinic-a', federations: ['churn'] });
      const nc = new SiteConnection(await connect({ servers: [url], authenticator: credsAuthenticator(new TextEncoder().encode(site.creds ?? '')), inboxPrefix: site.inboxPrefix }));
      expect((await nc.nc.jetstream().publish(subjects.update('churn', 'run1', 1, 'clinic-a'), new Uint8Array([1]))).stream).toBe(STREAM_UPDATES);
      await authority.revokeSite('clinic-a');
      await nc.dropped(5000);
      await nc.close();
      await authority.close();
      await coordinator.close();
    } finally {
      await stopProcess(server);
    }
  });

  it('refuses to write over an existing authority', async () => {
    const dir = join(work, 'twice');
    expect((await runCli(['nats', 'init', '--dir', dir])).code).toBe(0);
    const again = await runCli(['nats', 'init', '--dir', dir, '--json']);
    expect(again.code).toBe(1);
    expect(envelopeOf(again).error).toMatchObject({ code: 'ALREADY_EXISTS' });
  });

  it('leaves an authority that others may read unloaded', async () => {
    const dir = join(work, 'open');
    expect((await runCli(['nats', 'init', '--dir', dir])).code).toBe(0);
    await chmod(join(dir, 'authority.json'), 0o644);
    await expect(NatsAuthority.load({ dir })).rejects.toMatchObject({ reason: 'NATS_AUTHORITY_INSECURE' });
  });
});

async function startNatsServer(config: string, port: number): Promise<ChildProcess> {
  const child = spawn('nats-server', ['-c', config], { stdio: 'ignore' });
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const up = await new Promise<boolean>((resolve) => {
      const sock = netConnect({ port, host: '127.0.0.1' }, () => {
        sock.destroy();
        resolve(true);
      });
      sock.on('error', () => resolve(false));
    });
    if (up) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error('nats-server did not start');
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}
