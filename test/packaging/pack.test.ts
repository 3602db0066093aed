import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodeSafetensors, parsePublicKey } from '@tributary/proto';
import { startStack, type Stack } from '../helpers/stack.js';
import { toyModel } from '../helpers/training.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const WORKSPACES = ['proto', 'client-sdk', 'coordinator'] as const;
const execFileAsync = promisify(execFile);
// Packing, installing from the registry's cache and running real sites on a busy machine.
const LONG = 300_000;

interface PackedFile {
  path: string;
}
interface Packed {
  name: string;
  version: string;
  filename: string;
  files: PackedFile[];
}

/** The environment of a child npm or program, without the npm_* variables of a surrounding `npm test`. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
}

async function run(file: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string; status: number }> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, { cwd, env: cleanEnv(), maxBuffer: 64 * 1024 * 1024 });
    return { stdout, stderr, status: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', status: typeof e.code === 'number' ? e.code : 1 };
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** A training script for `tributary-site run`: sends the global model back unchanged. */
const TRAIN_SCRIPT = `
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const dir = process.env.TRIBUTARY_TASK_DIR;
copyFileSync(join(dir, 'model.safetensors'), join(dir, 'update.safetensors'));
writeFileSync(join(dir, 'result.json'), JSON.stringify({ num_examples: 10 }));
`;

/** A site written against the installed SDK, as a partner would write it. */
const SITE_SCRIPT = `
import { SiteClient, readKeyFile } from '@tributary/client-sdk';
const [coordinator, nats, keyFile, federation] = process.argv.slice(2);
const client = await SiteClient.connect({ coordinator, nats: [nats], key: await readKeyFile(keyFile) });
const verdicts = [];
try {
  const summary = await client.participate(federation, async (task) => ({ weights: task.model, numExamples: 10 }), {
    maxTasks: 1,
    onVerdict: (v) => verdicts.push({ accepted: v.accepted, round: v.round }),
  });
  console.log(JSON.stringify({ accepted: summary.accepted, verdicts }));
} finally {
  await client.close();
}
`;

/** Every entry point of the three packages, used with its types, as a partner's program would. */
const ENTRIES_PROGRAM = `
import { SiteClient, generateSigningKey, hasReason, Reason, tensor, type SiteTask, type TrainResult } from '@tributary/client-sdk';
import { LocalFederation, type LocalRunResult } from '@tributary/client-sdk/testing';
import { simulate, splitIris } from '@tributary/client-sdk/simulation';
import { AdminClient, Coordinator } from '@tributary/coordinator';
import { encodeSafetensors, PROTO_PATH } from '@tributary/proto';

const train = async (task: SiteTask): Promise<TrainResult> => ({ weights: task.model, numExamples: task.round });
const status = (r: LocalRunResult): string => r.status;
const key = generateSigningKey('site-a');
export const used = [SiteClient.connect, LocalFederation.start, simulate, splitIris().sites.length, Coordinator.start, AdminClient, train, status, key.keyId];
export const bytes: Buffer = encodeSafetensors({ w: tensor('F32', [1], new Float32Array(1)) });
export const refused = (err: unknown): boolean => hasReason(err, Reason.NOT_A_MEMBER) || PROTO_PATH === '';
`;

describe('the packages, packed and installed outside the repository', () => {
  let work: string;
  let app: string;
  const packed = new Map<string, Packed>();
  let bin: { site: string; coordinator: string };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'tributary-pack-'));
    for (const ws of WORKSPACES) {
      await stat(join(REPO, ws, 'dist', 'index.js')).catch(() => {
        throw new Error(`${ws} is not built: run \`npm run build\` first`);
      });
    }
    const pack = await run('npm', ['pack', '--json', '--pack-destination', work, ...WORKSPACES.flatMap((ws) => ['-w', ws])], REPO);
    expect(pack.status, pack.stderr).toBe(0);
    for (const p of JSON.parse(pack.stdout) as Packed[]) packed.set(p.name, p);
    app = join(work, 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'partner-site', private: true, type: 'module' }));
    const tarballs = [...packed.values()].map((p) => join(work, p.filename));
    const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...tarballs], app);
    expect(install.status, install.stderr).toBe(0);
    bin = { site: join(app, 'node_modules', '.bin', 'tributary-site'), coordinator: join(app, 'node_modules', '.bin', 'tributary') };
  }, LONG);
  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('packs each package with its compiled code, type declarations and README, and nothing of the tests or the build cache', () => {
    expect([...packed.keys()].sort()).toEqual(['@tributary/client-sdk', '@tributary/coordinator', '@tributary/proto']);
    for (const p of packed.values()) {
      const paths = p.files.map((f) => f.path);
      expect(paths).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts']));
      expect(paths.filter((f) => /(^|\/)test\/|\.test\.|\.tsbuildinfo$|(^|\/)node_modules\//.test(f))).toEqual([]);
    }
    expect(packed.get('@tributary/client-sdk')!.files.map((f) => f.path)).toEqual(expect.arrayContaining(['bin/tributary-site.js', 'dist/testing/index.d.ts', 'dist/simulation/index.d.ts']));
    expect(packed.get('@tributary/coordinator')!.files.map((f) => f.path)).toEqual(expect.arrayContaining(['bin/tributary.js', 'dist/web/index.html']));
    expect(packed.get('@tributary/proto')!.files.map((f) => f.path)).toContain('tributary.proto');
  });

  it('installs with one copy of @tributary/proto, shared by the SDK and the coordinator', async () => {
    const installed = await readdir(join(app, 'node_modules', '@tributary'));
    expect(installed.sort()).toEqual(['client-sdk', 'coordinator', 'proto']);
    for (const pkg of ['client-sdk', 'coordinator']) {
      await expect(stat(join(app, 'node_modules', '@tributary', pkg, 'node_modules', '@tributary', 'proto'))).rejects.toThrow();
    }
  });

  it('installs no file that names the directory the packages were built in', async () => {
    const offenders: string[] = [];
    for (const pkg of WORKSPACES) {
      for (const file of await filesUnder(join(app, 'node_modules', '@tributary', pkg))) {
        if ((await readFile(file, 'utf8')).includes(REPO)) offenders.push(file);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('type-checks a program importing every entry point of the installed packages by name', async () => {
    await writeFile(join(app, 'entries.ts'), ENTRIES_PROGRAM);
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [join(REPO, 'node_modules', '@types')] },
        files: ['entries.ts'],
      }),
    );
    const tsc = await run(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app, '--pretty', 'false'], app);
    expect(tsc.stdout, tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  }, LONG);

  it('seals everything but the entry points: a deep import of the SDK is refused', async () => {
    const r = await run(process.execPath, ['--input-type=module', '-e', "await import('@tributary/client-sdk/dist/site-client.js')"], app);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('runs the installed coordinator CLI: tributary --version prints the package version', async () => {
    const { version } = JSON.parse(await readFile(join(REPO, 'coordinator', 'package.json'), 'utf8')) as { version: string };
    const r = await run(bin.coordinator, ['--version'], app);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('installs the Python helper with the SDK, in the folder PYTHON_HELPER_DIR names, from where python3 imports it', async () => {
    expect(packed.get('@tributary/client-sdk')!.files.map((f) => f.path)).toContain('python/tributary_task.py');
    const where = await run(process.execPath, ['--input-type=module', '-e', "const { PYTHON_HELPER_DIR } = await import('@tributary/client-sdk'); console.log(PYTHON_HELPER_DIR)"], app);
    expect(where.status, where.stderr).toBe(0);
    const dir = where.stdout.trim();
    expect(dir.endsWith(join('node_modules', '@tributary', 'client-sdk', 'python'))).toBe(true);
    const { stdout } = await execFileAsync('python3', ['-c', 'import tributary_task; print(tributary_task.__file__); print(callable(tributary_task.load_task))'], {
      cwd: app,
      env: { ...cleanEnv(), PYTHONPATH: dir },
    });
    const [file, loadTask] = stdout.trim().split('\n');
    expect(file).toBe(join(dir, 'tributary_task.py'));
    expect(loadTask).toBe('True');
  });

  describe('a site run from the installed packages against a coordinator', () => {
    let stack: Stack;

    beforeEach(async () => {
      stack = await startStack();
    });
    afterEach(async () => {
      await stack?.stop();
    });

    /** A federation of one site whose key the installed `tributary-site keygen` wrote. */
    async function federationOfOne(name: string, site: string): Promise<string> {
      await stack.admin.createFederation({ name, settings: { strategy: 'fedavg', rounds: 1, minSites: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(toyModel()) });
      const keyFile = join(app, `${site}.key`);
      const keygen = await run(bin.site, ['keygen', site, '--key', keyFile, '--json'], app);
      expect(keygen.status, keygen.stderr).toBe(0);
      const { result } = JSON.parse(keygen.stdout) as { result: { publicKey: string } };
      await stack.admin.addSite({ name: site, publicKey: parsePublicKey(result.publicKey), federations: [name] });
      return keyFile;
    }

    async function expectRoundAccepted(runId: string, site: string): Promise<void> {
      const ended = await stack.admin.waitForRun(runId);
      expect(ended.status).toBe('RUN_STATUS_FINISHED');
      const rounds = await stack.admin.listRounds(runId);
      expect(rounds.map((r) => r.accepted.map((u) => u.site))).toEqual([[site]]);
    }

    it('the installed tributary-site binary trains a script and its update is accepted', async () => {
      const keyFile = await federationOfOne('agent-fed', 'agent-site');
      await writeFile(join(app, 'train.mjs'), TRAIN_SCRIPT);
      const agent = run(bin.site, ['run', '--federation', 'agent-fed', '--coordinator', stack.coordinator.address, '--nats', stack.nats.url, '--key', keyFile, '--max-tasks', '1', '--json', '--', process.execPath, 'train.mjs'], app);
      const started = await stack.admin.startRun('agent-fed');
      await expectRoundAccepted(started.id, 'agent-site');
      const r = await agent;
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, result: { tasks: 1, accepted: 1 } });
    }, LONG);

    it('an ESM script importing the installed @tributary/client-sdk takes part and its update is accepted', async () => {
      const keyFile = await federationOfOne('script-fed', 'script-site');
      await writeFile(join(app, 'site.mjs'), SITE_SCRIPT);
      const site = run(process.execPath, ['site.mjs', stack.coordinator.address, stack.nats.url, keyFile, 'script-fed'], app);
      const started = await stack.admin.startRun('script-fed');
      await expectRoundAccepted(started.id, 'script-site');
      const r = await site;
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ accepted: 1, verdicts: [{ accepted: true, round: 1 }] });
    }, LONG);
  });
});
