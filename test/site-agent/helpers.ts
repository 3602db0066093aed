import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const SITE_CLI = fileURLToPath(new URL('../../client-sdk/dist/site-agent/cli.js', import.meta.url));
export const PYTHON_HELPER_DIR = fileURLToPath(new URL('../../client-sdk/python', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));

/** A `tributary-site` process, its output so far, and its exit status. */
export interface SiteAgentProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number>;
}

export function startSiteAgent(args: string[], env: Record<string, string> = {}, cwd?: string): SiteAgentProcess {
  const child = spawn(process.execPath, [SITE_CLI, ...args], {
    // No PYTHONPATH: the agent puts the SDK's own Python helper on its scripts' path.
    env: { ...withoutPythonPath(process.env), ...env },
    ...(cwd === undefined ? {} : { cwd }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('close', (code, sig) => resolve(code ?? (sig === null ? -1 : 128))));
  return { child, stdout: () => out, stderr: () => err, exited };
}

function withoutPythonPath(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => k !== 'PYTHONPATH'));
}
