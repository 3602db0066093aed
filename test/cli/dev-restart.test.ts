import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeOf, runCli, startCli } from '../helpers/cli.js';

interface DevStarted {
  result: { coordinator: string; nats: string; envFile: string; exports: Record<string, string> };
}

describe('tributary dev --dir across restarts', () => {
  let dir: string;
  let first: DevStarted['result'];

  /** Starts dev on the directory, reads what it printed, and stops it as Ctrl-C does. */
  async function devOnce(extra: string[] = []): Promise<DevStarted['result']> {
    const dev = await startCli(['dev', '--dir', join(dir, 'dev'), '--json', ...extra], { withoutOuterSettings: true });
    try {
      return (JSON.parse(dev.firstLine) as DevStarted).result;
    } finally {
      await dev.stop();
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-dev-restart-'));
    first = await devOnce(['--grpc-listen', '127.0.0.1:0']);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps its gRPC address and NATS port when started again without flags', async () => {
    const again = await devOnce();
    expect(again.coordinator).toBe(first.coordinator);
    expect(again.nats).toBe(first.nats);
  });

  it('writes the environment for other shells to <dir>/env', async () => {
    const text = await readFile(first.envFile, 'utf8');
    for (const [name, value] of Object.entries(first.exports)) expect(text).toContain(`export ${name}=${value}`);
  });

  it('refuses to start when another process holds the NATS port it kept, saying how to pick another', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(Number(new URL(first.nats).port), '127.0.0.1', resolve));
    try {
      const r = await runCli(['dev', '--dir', join(dir, 'dev'), '--json'], { withoutOuterSettings: true, timeoutMs: 60_000 });
      expect(r.code).toBe(1);
      const { error } = envelopeOf(r);
      expect(error?.code).toBe('LISTEN_FAILED');
      expect(error?.hint).toContain('--nats-port 0');
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('takes a new free NATS port with --nats-port 0, and keeps that one', async () => {
    const moved = await devOnce(['--nats-port', '0']);
    const after = await devOnce();
    expect(after.nats).toBe(moved.nats);
    expect(after.coordinator).toBe(first.coordinator);
  });
});
