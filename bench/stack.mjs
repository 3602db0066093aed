// Starts `tributary dev` (nats-server + coordinator) in a child process, so the coordinator's
// memory can be read apart from the benchmark's own sites.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readKeyFile } from '@tributary/proto';

const CLI = fileURLToPath(new URL('../coordinator/dist/cli/main.js', import.meta.url));

export async function startDevStack() {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-'));
  const child = spawn(process.execPath, [CLI, 'dev', '--dir', dir, '--grpc-listen', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.on('exit', (code) => reject(new Error(`tributary dev exited with ${code}`)));
  });
  const { result } = JSON.parse(line);
  return {
    coordinator: result.coordinator,
    nats: result.nats,
    adminKey: await readKeyFile(result.keyFile),
    dir,
    pid: child.pid,
    /** Peak and current resident memory of the coordinator process, in MiB. */
    async memory() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kib = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
      return { peakMiB: kib('VmHWM') / 1024, rssMiB: kib('VmRSS') / 1024 };
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Parses `--name value` options with defaults. */
export function options(args, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < args.length; i += 2) {
    const key = args[i]?.replace(/^--/, '');
    if (!key || !(key in defaults)) throw new Error(`unknown option ${args[i]} (known: ${Object.keys(defaults).map((k) => `--${k}`).join(' ')})`);
    out[key] = typeof defaults[key] === 'number' ? Number(args[i + 1]) : args[i + 1];
  }
  return out;
}

export function table(rows) {
  const cols = Object.keys(rows[0] ?? {});
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padStart(width[i])).join('  ');
  console.log(line(cols));
  for (const r of rows) console.log(line(cols.map((c) => r[c])));
}
