// What a Python site needs on this machine: its rows as a CSV file, a key file, and a
// `tributary-site run` process running its own script for every task.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdminClient } from '@tributary/coordinator';
import { generateSigningKey, writeKeyFile } from '@tributary/proto';
import { NUM_FEATURES, type Dataset } from '../quickstart/data.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const AGENT = join(ROOT, 'client-sdk/dist/site-agent/cli.js');
/** The Python scripts of the examples. */
export const PYTHON_SITE_DIR = join(ROOT, 'examples/python-site');

/** A dataset as CSV: the features, then the class. */
export function csvOf(d: Dataset): string {
  const lines: string[] = [];
  for (let r = 0; r < d.size; r++) lines.push([...d.x.slice(r * NUM_FEATURES, (r + 1) * NUM_FEATURES), d.y[r]].join(','));
  return `${lines.join('\n')}\n`;
}

export interface PythonSite {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the agent's exit status. */
  readonly exited: Promise<number>;
  /** What the agent printed on stdout (its closing line). */
  stdout(): string;
}

/**
 * Registers a Python site with the coordinator, writes its key and data into `dir`, and starts
 * `tributary-site run -- python3 SCRIPT` for it; the agent runs until the run ends. Lines about
 * failures and refusals go to `onProblem`.
 */
export async function startPythonSite(opts: {
  admin: AdminClient;
  coordinator: string;
  nats: string;
  federation: string;
  dir: string;
  name: string;
  data: Dataset;
  script: string;
  onProblem: (line: string) => void;
}): Promise<PythonSite> {
  const key = generateSigningKey(opts.name);
  await opts.admin.addSite({ name: opts.name, publicKey: key.publicKey, federations: [opts.federation] });
  const keyFile = join(opts.dir, `${opts.name}.key`);
  await writeKeyFile(keyFile, key);
  const data = join(opts.dir, `${opts.name}.csv`);
  await writeFile(data, csvOf(opts.data));
  const args = ['run', '--federation', opts.federation, '--coordinator', opts.coordinator, '--nats', opts.nats, '--key', keyFile, '--', 'python3', opts.script];
  const child = spawn(process.execPath, [AGENT, ...args], {
    // The agent puts the SDK's Python helper (tributary_task) on the script's PYTHONPATH.
    env: { ...process.env, SITE_DATA: data },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (/train failed|refused|Error/.test(line)) opts.onProblem(`${opts.name}: ${line}`);
  });
  const exited = new Promise<number>((resolve) => child.on('close', (code, sig) => resolve(code ?? (sig === null ? -1 : 128))));
  return { name: opts.name, child, exited, stdout: () => out };
}
