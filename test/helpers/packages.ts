import { execFile } from 'node:child_process';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The repository's root, where the workspaces are packed from. */
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

const execFileAsync = promisify(execFile);

export interface PackedFile {
  path: string;
}

/** One tarball as `npm pack --json` describes it. */
export interface Packed {
  name: string;
  version: string;
  filename: string;
  files: PackedFile[];
}

export interface ProgramResult {
  stdout: string;
  stderr: string;
  status: number;
}

/** The environment of a child npm or program, without the npm_* variables of a surrounding `npm test`. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
}

/** Runs a program to its end; a failure is a status, not a throw. `env` is set on top of the clean environment. */
export async function runProgram(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<ProgramResult> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, { cwd, env: { ...cleanEnv(), ...env }, maxBuffer: 64 * 1024 * 1024 });
    return { stdout, stderr, status: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', status: typeof e.code === 'number' ? e.code : 1 };
  }
}

/** Packs the built workspaces (`proto`, `client-sdk`...) into `destination`; throws if one is not built or npm fails. */
export async function packWorkspaces(workspaces: readonly string[], destination: string): Promise<Map<string, Packed>> {
  for (const ws of workspaces) {
    await stat(join(REPO, ws, 'dist', 'index.js')).catch(() => {
      throw new Error(`${ws} is not built: run \`npm run build\` first`);
    });
  }
  const pack = await runProgram('npm', ['pack', '--json', '--pack-destination', destination, ...workspaces.flatMap((ws) => ['-w', ws])], REPO);
  if (pack.status !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
  return new Map((JSON.parse(pack.stdout) as Packed[]).map((p) => [p.name, p]));
}

/**
 * Installs tarballs into a new ESM project at `dir`, as a partner would: third-party
 * dependencies come from the registry (its cache first). Throws if npm fails.
 */
export async function installTarballs(dir: string, tarballs: readonly string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'partner-site', private: true, type: 'module' }));
  const install = await runProgram('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...tarballs], dir);
  if (install.status !== 0) throw new Error(`npm install failed: ${install.stderr}`);
}
