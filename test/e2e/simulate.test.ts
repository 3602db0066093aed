import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeFailure } from '../../coordinator/src/cli/errors.js';
import { locateSiteAgent } from '../../coordinator/src/cli/site-agent.js';
import { envelopeOf, runCli, startCli, type CliProcess } from '../helpers/cli.js';
import { caught } from '../helpers/errors.js';
import { eventually } from '../helpers/stack.js';

/** As `tributary-site simulate --json` reports it. */
interface Simulation {
  run: { status: string; federation: string };
  sites: { name: string; accepted: number }[];
}

/** The ids of running processes whose command line contains `text`. */
async function processesNaming(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const cmdline = await readFile(join('/proc', pid, 'cmdline'), 'utf8').catch(() => '');
    if (cmdline.split('\0').some((arg) => arg.includes(text))) found.push(pid);
  }
  return found;
}

describe('tributary simulate, through the real binaries against a dev stack', () => {
  let dir: string;
  let dev: CliProcess | undefined;
  let env: Record<string, string> = {};
  const tributary = (args: string[], extra: Record<string, string> = {}) => runCli(args, { env: { ...env, ...extra }, cwd: dir, withoutOuterSettings: true });

  /** A federation of the quickstart's iris model, two rounds of at least `minSites` sites. */
  async function federation(name: string, minSites: number): Promise<void> {
    const init = await tributary(['model', 'init', '--spec', 'w:F32:[4,3],b:F32:[3]', '--init', 'normal', '--seed', '1', '--out', `${name}.safetensors`]);
    expect(init.code, init.stderr).toBe(0);
    const created = await tributary(['federation', 'create', name, '--initial-model', `${name}.safetensors`, '--strategy', 'fedavg', '--rounds', '2', '--min-sites', String(minSites), '--deadline', '2m']);
    expect(created.code, created.stderr).toBe(0);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-simulate-'));
    dev = await startCli(['dev', '--dir', join(dir, 'dev'), '--grpc-listen', '127.0.0.1:0', '--json'], { withoutOuterSettings: true });
    env = (JSON.parse(dev.firstLine) as { result: { exports: Record<string, string> } }).result.exports;
  }, 90_000);

  afterAll(async () => {
    await dev?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('trains a federation to a finished run with N sites and prints the simulation in its --json envelope', async () => {
    await federation('sim-json', 3);
    const r = await tributary(['simulate', 'sim-json', '--sites', '3', '--dir', 'sim-json-sites', '--json']);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    const envelope = envelopeOf<{ exitCode: number; simulation: Simulation }>(r);
    expect(envelope.ok).toBe(true);
    expect(envelope.result?.exitCode).toBe(0);
    expect(envelope.result?.simulation.run).toMatchObject({ federation: 'sim-json', status: 'RUN_STATUS_FINISHED' });
    expect(envelope.result?.simulation.sites.map((s) => [s.name, s.accepted])).toEqual([
      ['sim-json-sim-1', 2],
      ['sim-json-sim-2', 2],
      ['sim-json-sim-3', 2],
    ]);
  }, 240_000);

  it('prints progress lines for sites, uploads and rounds when its output is not a terminal', async () => {
    await federation('sim-lines', 2);
    const r = await tributary(['simulate', 'sim-lines', '--sites', '2', '--dir', 'sim-lines-sites']);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.filter((l) => /^site sim-lines-sim-\d enrolled with an invitation/.test(l))).toHaveLength(2);
    // A verdict of the last round may come after the run ended and the sites stopped listening.
    expect(lines.filter((l) => /^ {2}sim-lines-sim-\d: round 1 update accepted$/.test(l))).toHaveLength(2);
    expect(lines.filter((l) => /^round [12]\/2 COMMITTED: 2\/2 sites accepted/.test(l))).toHaveLength(2);
    expect(r.stdout).toMatch(/^Run \S+ FINISHED; model version \d+/m);
  }, 240_000);

  it('connects with the coordinator address and admin key given as flags', async () => {
    await federation('sim-flags', 1);
    const r = await runCli(
      ['simulate', 'sim-flags', '--sites', '1', '--rounds', '1', '--dir', 'sim-flags-sites', '--coordinator', env['TRIBUTARY_COORDINATOR'] ?? '', '--key', env['TRIBUTARY_KEY'] ?? '', '--nats', env['TRIBUTARY_NATS'] ?? '', '--json'],
      { cwd: dir, withoutOuterSettings: true },
    );
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(envelopeOf<{ simulation: Simulation }>(r).result?.simulation.run.status).toBe('RUN_STATUS_FINISHED');
  }, 240_000);

  it('passes Ctrl-C on to the simulation, which stops its sites and exits with 130', async () => {
    await federation('sim-stop', 1);
    const sim = await startCli(['simulate', 'sim-stop', '--sites', '1', '--rounds', '100000', '--dir', 'sim-stop-sites'], { env, cwd: dir, withoutOuterSettings: true });
    await eventually(() => (/^round 1\/100000 COMMITTED/m.test(sim.output()) ? true : undefined), 120_000);
    const exited = new Promise<number | null>((resolve) => sim.child.once('exit', (code) => resolve(code)));
    sim.child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(sim.output()).toMatch(/interrupted/);
    expect(await processesNaming('sim-stop-sites')).toEqual([]);
  }, 240_000);

  it("reports the site SDK's refusal as its own error, with a hint naming tributary simulate", async () => {
    const r = await tributary(['simulate', 'no-such-federation', '--sites', '1', '--example', 'cifar']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error \(USAGE\): .*cifar/m);
    expect(r.stderr).toContain('Hint: Run `tributary simulate --help` for usage.');
  });

  it('refuses to start without a NATS URL, saying where to give one', async () => {
    const r = await tributary(['simulate', 'sim-json', '--sites', '1', '--json'], { TRIBUTARY_NATS: '' });
    expect(r.code).toBe(2);
    expect(envelopeOf(r).error).toMatchObject({ code: 'USAGE', hint: expect.stringContaining('TRIBUTARY_NATS') });
  });
});

describe('finding the installed tributary-site', () => {
  let empty: string;

  beforeAll(async () => {
    empty = await mkdtemp(join(tmpdir(), 'tributary-no-sdk-'));
  });
  afterAll(async () => {
    await rm(empty, { recursive: true, force: true });
  });

  it("finds the SDK package's bin through module resolution", () => {
    const found = locateSiteAgent({ from: [process.cwd()], path: '' });
    expect(found.foundBy).toBe('package');
    expect(found.args[0]).toMatch(/client-sdk[\\/]bin[\\/]tributary-site\.js$/);
  });

  it('fails with SITE_AGENT_MISSING and the npm install command when the SDK is neither resolvable nor on PATH', () => {
    const err = caught(() => locateSiteAgent({ from: [empty], path: empty }));
    expect(err).toMatchObject({ reason: 'SITE_AGENT_MISSING', code: 'FAILED_PRECONDITION' });
    const shown = describeFailure(err, { command: ['simulate'], usage: false });
    expect(shown.code).toBe('SITE_AGENT_MISSING');
    expect(shown.message).toContain('@tributary/client-sdk is not installed');
    expect(shown.hint).toContain('npm install @tributary/client-sdk');
    expect(shown.exitCode).toBe(1);
  });
});
