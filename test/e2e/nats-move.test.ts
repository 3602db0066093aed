import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdminClient } from '@tributary/coordinator';
import { encodeSafetensors, generateSigningKey, readKeyFile, writeKeyFile } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../coordinator/src/dev/nats-server.js';
import { startCli, type CliProcess } from '../helpers/cli.js';
import { eventually } from '../helpers/stack.js';
import { toyModel } from '../helpers/training.js';

const TASK_SITE = fileURLToPath(new URL('../helpers/task-site.mjs', import.meta.url));

interface Verdict {
  runId: string;
  round: number;
  accepted: boolean;
  reason: string;
}

describe('a running site follows the coordinator to a NATS that moved', () => {
  let dir = '';
  let dev: CliProcess | undefined;
  let site: ChildProcess | undefined;
  let siteOut = '';
  let siteErr = '';
  let siteExited: Promise<number> | undefined;
  /** The stack's exports after each start of `tributary dev --dir`. */
  const starts: Array<Record<string, string>> = [];

  /** `tributary dev` on the same directory, as an operator restarts it. */
  async function startDev(args: string[]): Promise<Record<string, string>> {
    dev = await startCli(['dev', '--dir', join(dir, 'dev'), '--json', ...args], { withoutOuterSettings: true });
    const exports = (JSON.parse(dev.firstLine) as { result: { exports: Record<string, string> } }).result.exports;
    starts.push(exports);
    return exports;
  }

  async function finishedRun(exports: Record<string, string>): Promise<string> {
    const admin = new AdminClient({ address: exports['TRIBUTARY_COORDINATOR'] ?? '', key: await readKeyFile(exports['TRIBUTARY_KEY'] ?? '') });
    try {
      const run = await admin.startRun('moving');
      expect((await admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
      return run.id;
    } finally {
      admin.close();
    }
  }

  const verdicts = (): Verdict[] => siteOut.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Verdict);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-nats-move-'));
    const first = await startDev(['--grpc-listen', '127.0.0.1:0']);
    const admin = new AdminClient({ address: first['TRIBUTARY_COORDINATOR'] ?? '', key: await readKeyFile(first['TRIBUTARY_KEY'] ?? '') });
    try {
      await admin.createFederation({ name: 'moving', settings: { strategy: 'fedavg', rounds: 1, minSites: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(toyModel()) });
      const key = generateSigningKey('wanderer');
      await admin.addSite({ name: 'wanderer', publicKey: key.publicKey, federations: ['moving'] });
      await writeKeyFile(join(dir, 'site.key'), key);
    } finally {
      admin.close();
    }
    // The site is told the first NATS URL, once, by its operator.
    site = spawn(process.execPath, [TASK_SITE], {
      env: { ...process.env, COORDINATOR: first['TRIBUTARY_COORDINATOR'] ?? '', NATS: first['TRIBUTARY_NATS'] ?? '', KEY_FILE: join(dir, 'site.key'), FEDERATION: 'moving', MAX_TASKS: '2' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    site.stdout?.on('data', (d: Buffer) => (siteOut += d.toString()));
    site.stderr?.on('data', (d: Buffer) => (siteErr += d.toString()));
    const child = site;
    siteExited = new Promise((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  }, 120_000);

  afterAll(async () => {
    if (site?.exitCode === null) site.kill('SIGKILL');
    await dev?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('has the site publish to the first NATS while it is there', async () => {
    const runId = await finishedRun(starts[0] ?? {});
    await eventually(() => (verdicts().length === 1 ? true : undefined), 60_000);
    expect(verdicts()[0]).toMatchObject({ runId, accepted: true });
  }, 180_000);

  it("accepts the site's next update after dev restarts with another NATS port, the site never restarted", async () => {
    await dev?.stop();
    const second = await startDev(['--nats-port', String(await freePort())]);
    expect(second['TRIBUTARY_NATS']).not.toBe(starts[0]?.['TRIBUTARY_NATS']);
    expect(second['TRIBUTARY_COORDINATOR']).toBe(starts[0]?.['TRIBUTARY_COORDINATOR']);
    const runId = await finishedRun(second);
    expect(await siteExited, siteErr).toBe(0);
    expect(verdicts()[1]).toMatchObject({ runId, accepted: true });
    const switched = siteErr.split('\n').filter((l) => l.includes('NATS moved')).map((l) => JSON.parse(l) as { to: string[] });
    expect(switched.map((l) => l.to)).toEqual([[second['TRIBUTARY_NATS']]]);
  }, 240_000);
});
