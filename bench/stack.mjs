// Starts `tributary dev` (nats-server + coordinator) in a child process, so the coordinator's
// memory can be read apart from the benchmark's own sites. NATS runs without authentication
// (`--no-nats-auth`), so the raw-publish limit and the metric sites can connect directly.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CHUNK_SIZE, readKeyFile } from '@tributary/proto';
import { connect } from 'nats';

const CLI = fileURLToPath(new URL('../coordinator/dist/cli/main.js', import.meta.url));

/** `args`: more `tributary dev` flags, e.g. ['--max-update-bytes', '3GiB']. */
export async function startDevStack({ args = [], loopProbe = false } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-'));
  const env = { ...process.env };
  // BENCH_CPU_PROF=<dir> writes a CPU profile of the coordinator there (open it in Chrome DevTools).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  // The coordinator's memory split at its peak (bench/memory-probe.mjs).
  if (process.env.BENCH_MEMORY_PROBE) profile.push('--import', fileURLToPath(new URL('./memory-probe.mjs', import.meta.url)));
  // `loopProbe`: the coordinator's event-loop delay, read with `loopDelay()` (bench/loop-probe.mjs).
  const loopFile = join(dir, 'loop-delay.json');
  if (loopProbe) {
    profile.push('--import', fileURLToPath(new URL('./loop-probe.mjs', import.meta.url)));
    env.BENCH_LOOP_PROBE = loopFile;
  }
  // BENCH_LOG_LEVEL=debug shows the coordinator's per-update log lines (on stderr).
  const logLevel = process.env.BENCH_LOG_LEVEL ? ['--log-level', process.env.BENCH_LOG_LEVEL] : [];
  const child = spawn(process.execPath, [...profile, CLI, 'dev', '--dir', dir, '--grpc-listen', '127.0.0.1:0', '--json', '--no-nats-auth', ...logLevel, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env });
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
    /** The admin key's file, for a worker thread or process to load. */
    keyFile: result.keyFile,
    dir,
    pid: child.pid,
    /** Peak and current resident memory of the coordinator process, in MiB. */
    async memory() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kib = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
      return { peakMiB: kib('VmHWM') / 1024, rssMiB: kib('VmRSS') / 1024 };
    },
    /**
     * The coordinator's event-loop delay since the last call (count of 5 ms samples, p50, p99
     * and max in ms); the first call starts the measurement. Needs `loopProbe`.
     */
    async loopDelay() {
      const before = await readFile(loopFile, 'utf8').catch(() => '');
      child.kill('SIGUSR2');
      for (let i = 0; i < 200; i++) {
        const now = await readFile(loopFile, 'utf8').catch(() => '');
        if (now !== '' && now !== before) return JSON.parse(now);
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('the coordinator did not report its event-loop delay');
    },
    /** CPU seconds used so far by the coordinator process and by the nats-server it started. */
    async cpu() {
      const natsPids = (await childPids(child.pid)).filter((pid) => processName(pid) === 'nats-server');
      return { coordinator: cpuSeconds(child.pid), nats: natsPids.reduce((s, pid) => s + cpuSeconds(pid), 0) };
    },
    /** The coordinator's level tracking store (read it once the stack is stopped). */
    trackingPath: join(dir, 'data', 'tracking'),
    /** Stops the stack and removes its directory, unless `keep` (then call `remove`). */
    async stop({ keep = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        await exited;
      }
      if (!keep) await rm(dir, { recursive: true, force: true });
    },
    async remove() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Clock ticks a second in /proc/<pid>/stat (USER_HZ: 100 on Linux). */
const TICKS = 100;

/** User and system CPU seconds a process has used so far; 0 when it is gone or not on Linux. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}

function processName(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

async function childPids(pid) {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => []);
  const pids = [];
  for (const t of tasks) {
    const list = await readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '');
    pids.push(...list.split(' ').filter(Boolean).map(Number));
  }
  return pids;
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

/**
 * Prints one measurement as `BENCH {json}`: the case, its figures, `ratio` to the limit measured
 * in the same run, `target` (the ratio or figure to reach) and `met`.
 */
export function report(bench, figures, { ratio, target, met }) {
  console.log(`BENCH ${JSON.stringify({ bench, ...figures, ratio: round(ratio), target, met })}`);
}

export function round(x, digits = 3) {
  return Number.isFinite(x) ? Number(x.toFixed(digits)) : x;
}

/** Seconds `fn` takes, best of `repeat` runs (the least disturbed by other load). */
export function bestSeconds(fn, repeat = 3) {
  let best = Infinity;
  for (let r = 0; r < repeat; r++) {
    const t = performance.now();
    fn();
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  return best;
}

/**
 * The limit for ingest: `sites` connections each publishing `bytes` with acked `js.publish` in
 * chunks of the SDK's size, or `chunkSize` (8 in flight each), into a file stream of its own on the same server,
 * all at once. Returns MB/s over all sites; the stream is deleted afterwards.
 */
export async function rawPublish(natsUrl, sites, bytes, chunkSize = DEFAULT_CHUNK_SIZE) {
  const ncs = await Promise.all(Array.from({ length: sites }, () => connect({ servers: [natsUrl] })));
  const jsm = await ncs[0].jetstreamManager();
  await jsm.streams.add({ name: 'BENCH_RAW', subjects: ['bench.raw.>'], storage: 'file', num_replicas: 1 });
  const chunk = new Uint8Array(chunkSize).fill(7);
  const chunks = Math.ceil(bytes / chunkSize);
  try {
    const started = performance.now();
    await Promise.all(
      ncs.map(async (nc, s) => {
        const js = nc.jetstream();
        const inFlight = new Set();
        for (let c = 0; c < chunks; c++) {
          if (inFlight.size >= 8) await Promise.race(inFlight);
          const size = c === chunks - 1 ? bytes - c * chunkSize : chunkSize;
          const ack = js.publish(`bench.raw.${s}`, chunk.subarray(0, size)).finally(() => inFlight.delete(ack));
          inFlight.add(ack);
        }
        await Promise.all(inFlight);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return { mbps: (sites * bytes) / 1e6 / seconds, msgsPerSecond: (sites * chunks) / seconds, seconds };
  } finally {
    await jsm.streams.delete('BENCH_RAW');
    await Promise.all(ncs.map((nc) => nc.close()));
  }
}
