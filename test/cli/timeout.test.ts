import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeOf, runCli, type CliResult } from '../helpers/cli.js';

describe('the deadline of CLI calls', () => {
  let dir: string;
  let silent: Server;
  const sockets: Socket[] = [];
  let address = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-timeout-'));
    // A peer that accepts TCP connections and never says a word.
    silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    address = `127.0.0.1:${port}`;
    await runCli(['keygen', 'admin'], { cwd: dir, withoutOuterSettings: true });
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  function tributary(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    return runCli(args, { cwd: dir, env, withoutOuterSettings: true, timeoutMs: 90_000 });
  }

  it('gives up on a peer that never answers with DEADLINE_EXCEEDED, naming the address and the deadline', async () => {
    const r = await tributary(['federation', 'list', '--coordinator', address, '--timeout', '1s', '--json']);
    expect(r.code).toBe(1);
    const { error } = envelopeOf(r);
    expect(error?.code).toBe('DEADLINE_EXCEEDED');
    expect(error?.message).toBe(`the coordinator at ${address} did not answer within 1s`);
    expect(error?.hint).toContain('--timeout');
  });

  it('prints the deadline failure as one line and a hint, without a stack trace', async () => {
    const r = await tributary(['site', 'list', '--coordinator', address, '--timeout', '1s']);
    expect(r.stderr).toMatch(/^Error \(DEADLINE_EXCEEDED\): the coordinator at .* did not answer within 1s\nHint: .*\n$/);
  });

  it('takes the deadline from TRIBUTARY_TIMEOUT', async () => {
    const r = await tributary(['run', 'list', '--coordinator', address, '--json'], { TRIBUTARY_TIMEOUT: '2s' });
    expect(envelopeOf(r).error?.message).toContain('within 2s');
  });

  it('refuses a deadline that is not a duration as a usage error', async () => {
    const r = await tributary(['run', 'list', '--coordinator', address, '--timeout', 'soon', '--json']);
    expect(r.code).toBe(2);
    expect(envelopeOf(r).error?.message).toContain('--timeout');
  });
});
