// Full FedAvg rounds at the target sizes: the coordinator in its own process (`tributary dev`),
// the sites in other processes (several sites may share one), so the coordinator's time and
// memory are its own. Each round holds the task broadcast, every site's model download, its
// encode, hash and chunked publish, and the coordinator's verification, fold and commit.
// Prints the median seconds a round and the coordinator's peak memory, against the JetStream
// file-store write rate of the same bytes measured on the same server in the same run.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AdminClient } from '@tributary/coordinator';
import { encodeKeyFile, encodeSafetensors, generateSigningKey, tensor } from '@tributary/proto';
import { cpus } from 'node:os';
import { cpuSeconds, options, rawPublish, report, round, startDevStack, table } from './stack.mjs';
import { roundSeconds } from './rounds.mjs';

const SITE_PROCESS = fileURLToPath(new URL('./round-site.mjs', import.meta.url));

/** The fedavg bound on the coordinator's peak memory: four models' worth and 200 MB, whatever N. */
export function memoryBoundMiB(modelBytes) {
  return (4 * modelBytes + 200e6) / 2 ** 20;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Adds `sites` sites to `federation` and starts them in `processes` processes of
 * round-site.mjs (`nativeSigning`: they sign with node:crypto), each connected and waiting for
 * tasks when this resolves. `done()` resolves with every process's summary once the run has
 * ended; it rejects if a process fails. With `barrier`, sites hold their first update once
 * trained: `trained()` resolves when every site has, and `release()` lets them all submit.
 */
export async function startSiteProcesses(stack, admin, { federation, sites, params, processes, nativeSigning = false, barrier = false }) {
  const keys = Array.from({ length: sites }, (_, i) => generateSigningKey(`site-${i}`));
  // Added 16 at a time: one by one, 1,000 sites take about a minute of round trips.
  for (let i = 0; i < sites; i += 16) {
    await Promise.all(keys.slice(i, i + 16).map((key) => admin.addSite({ name: key.name, publicKey: key.publicKey, federations: [federation] })));
  }
  const perProcess = Math.ceil(sites / processes);
  const children = [];
  for (let p = 0; p * perProcess < sites; p++) {
    const mine = keys.slice(p * perProcess, (p + 1) * perProcess);
    // BENCH_SITE_CPU_PROF=<dir> writes a CPU profile of the first site process there.
    const profile = p === 0 && process.env.BENCH_SITE_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_SITE_CPU_PROF}`] : [];
    const child = spawn(process.execPath, [...profile, SITE_PROCESS], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdin.end(JSON.stringify({ coordinator: stack.coordinator, nats: stack.nats, federation, params, nativeSigning, barrier, offset: p * perProcess, keys: mine.map(encodeKeyFile) }));
    let out = '';
    const lines = [];
    let onLine = () => {};
    child.stdout.on('data', (d) => {
      out += d.toString();
      let nl;
      while ((nl = out.indexOf('\n')) >= 0) {
        lines.push(out.slice(0, nl));
        out = out.slice(nl + 1);
        onLine();
      }
    });
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const waitFor = (line) =>
      new Promise((resolve, reject) => {
        const previous = onLine;
        onLine = () => {
          previous();
          if (lines.includes(line)) resolve();
        };
        exited.then(({ code, signal }) => reject(new Error(`site process ${p} exited (${code ?? signal}) before it printed ${line}`)));
      });
    const ready = waitFor('ready');
    const trained = barrier ? waitFor('trained') : Promise.resolve();
    trained.catch(() => {});
    const done = exited.then(({ code, signal }) => {
      const summary = lines.filter((l) => l.startsWith('{')).pop();
      if (code !== 0 || summary === undefined) throw new Error(`site process ${p} exited with ${code ?? signal}`);
      return JSON.parse(summary);
    });
    // Rejects unawaited when a run fails to start and its processes are killed.
    done.catch(() => {});
    children.push({ child, ready, trained, done });
  }
  await Promise.all(children.map((c) => c.ready));
  return {
    /**
     * CPU seconds the site processes have used so far, together; a process that has exited
     * counts with the last figure read (call it while they run, e.g. with the memory sampler).
     */
    cpu() {
      for (const c of children) c.cpu = Math.max(c.cpu ?? 0, cpuSeconds(c.child.pid));
      return children.reduce((s, c) => s + c.cpu, 0);
    },
    /** Every process's summary, once the run has ended (a run that fails to start kills them unawaited). */
    done: () => Promise.all(children.map((c) => c.done)),
    trained: () => Promise.all(children.map((c) => c.trained)),
    release() {
      for (const { child } of children) child.kill('SIGUSR2');
    },
    kill() {
      for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}

/**
 * Runs `rounds` rounds of fedavg over `sites` sites in `processes` processes on a fresh
 * `tributary dev` (`devArgs`: more of its flags); throws if an update is refused, a site fails or a round does not commit.
 */
export async function measureRounds({ sites, params, processes, rounds, initialModel, devArgs = [], after }) {
  const stack = await startDevStack({ args: devArgs });
  const admin = new AdminClient({ address: stack.coordinator, key: stack.adminKey });
  let siteProcesses;
  try {
    // The limit: the same bytes a round receives, published acked into a file stream on this server.
    const raw = await rawPublish(stack.nats, Math.min(sites, 10), (sites * params * 4) / Math.min(sites, 10));
    await admin.createFederation({
      name: 'bench',
      settings: { rounds, minSites: sites, roundDeadlineSeconds: 3600 },
      initialModel: initialModel ?? encodeSafetensors({ w: tensor('F32', [params], new Float32Array(params)) }),
    });
    siteProcesses = await startSiteProcesses(stack, admin, { federation: 'bench', sites, params, processes });
    const before = await stack.memory();
    let peak = before.peakMiB;
    const sampler = setInterval(() => {
      siteProcesses.cpu();
      stack.memory().then((m) => (peak = Math.max(peak, m.peakMiB))).catch(() => {});
    }, 200);
    // CPU of every process of the run, between the run's start and its end (sites still running).
    const cpuBefore = { ...(await stack.cpu()), sites: siteProcesses.cpu() };
    const started = Date.now();
    const runInfo = await admin.startRun('bench');
    const ended = await admin.waitForRun(runInfo.id, {}).finally(() => clearInterval(sampler));
    const wall = (Date.now() - started) / 1000;
    const cpuAfter = { ...(await stack.cpu()), sites: siteProcesses.cpu() };
    const cpu = Object.fromEntries(Object.keys(cpuAfter).map((k) => [k, cpuAfter[k] - cpuBefore[k]]));
    const summaries = await siteProcesses.done();
    const list = await admin.listRounds(runInfo.id);
    for (const r of list) {
      if (r.refused.length > 0) throw new Error(`round ${r.number}: ${r.refused.length} updates refused (first: ${JSON.stringify(r.refused[0])})`);
      if (!r.state.endsWith('COMMITTED')) throw new Error(`round ${r.number} ended ${r.state} ${r.failureReason}`);
      if (r.accepted.length !== sites) throw new Error(`round ${r.number}: ${r.accepted.length} of ${sites} updates accepted`);
    }
    const failed = summaries.reduce((n, s) => n + s.failed + s.refused, 0);
    if (failed > 0) throw new Error(`${failed} site tasks failed or were refused`);
    if (!ended.status.endsWith('FINISHED')) throw new Error(`run ended ${ended.status}`);
    // `after` (optional) runs on the same stack once the run has ended, e.g. an export.
    const afterResult = await after?.(stack, admin);
    const mem = await stack.memory();
    return {
      after: afterResult,
      rounds: list,
      wall,
      cpu,
      raw,
      coordinatorStartMiB: before.rssMiB,
      coordinatorPeakMiB: Math.max(peak, mem.peakMiB),
      sitePeakMiB: Math.max(...summaries.map((s) => s.peakMiB)),
    };
  } finally {
    siteProcesses?.kill();
    admin.close();
    await stack.stop();
  }
}

const FULL = [
  { sites: 10, params: 1_000_000, processes: 10, target: 0.3 },
  { sites: 2, params: 10_000_000, processes: 2, target: 0.55 },
  { sites: 100, params: 1_000_000, processes: 4, target: 3 },
];
const QUICK = [
  { sites: 4, params: 100_000, processes: 2, target: null },
  { sites: 2, params: 1_000_000, processes: 2, target: null },
];

export async function run(args, { quick = false } = {}) {
  const o = options(args, { sites: 0, params: 1_000_000, processes: 0, rounds: quick ? 3 : 5 });
  const configs = o.sites ? [{ sites: o.sites, params: o.params, processes: o.processes || Math.min(o.sites, 4), target: null }] : quick ? QUICK : FULL;
  const rows = [];
  for (const c of configs) {
    const modelBytes = c.params * 4;
    console.log(`FedAvg round: ${c.sites} sites in ${Math.min(c.processes, c.sites)} processes, ${c.params.toLocaleString('en')} float32 parameters (${(modelBytes / 2 ** 20).toFixed(1)} MiB a model), ${o.rounds} rounds`);
    const res = await measureRounds({ ...c, rounds: o.rounds });
    const seconds = res.rounds.map(roundSeconds);
    const med = median(seconds);
    // Where a round's time goes: to the first update accepted (broadcast, downloads, training,
    // encode, publish, verification of the first), accepting the rest, then the commit.
    const phases = res.rounds.map((r) => {
      const accepted = r.accepted.map((u) => u.acceptedAtMs);
      return { first: (Math.min(...accepted) - r.openedAtMs) / 1000, rest: (Math.max(...accepted) - Math.min(...accepted)) / 1000, commit: (r.closedAtMs - Math.max(...accepted)) / 1000 };
    });
    const phase = (k) => median(phases.map((p) => p[k]));
    // What the server's file store alone needs for a round's updates.
    const boundSeconds = (c.sites * modelBytes) / 1e6 / res.raw.mbps;
    const memBound = memoryBoundMiB(modelBytes);
    // Where the machine's CPU went, a round on average: how busy the run kept all cores.
    const perRound = (k) => res.cpu[k] / res.rounds.length;
    const busy = (res.cpu.coordinator + res.cpu.nats + res.cpu.sites) / (res.wall * cpus().length);
    const met = c.target === null ? null : med <= c.target && res.coordinatorPeakMiB <= memBound;
    rows.push({
      sites: c.sites,
      params: c.params.toLocaleString('en'),
      'median round s': med.toFixed(3),
      'rounds s': seconds.map((s) => s.toFixed(2)).join(' '),
      'to first accepted s': phase('first').toFixed(2),
      'accepting s': phase('rest').toFixed(2),
      'commit s': phase('commit').toFixed(2),
      target: c.target ?? '-',
      'file store MB/s': res.raw.mbps.toFixed(0),
      'bound s': boundSeconds.toFixed(3),
      ratio: (boundSeconds / med).toFixed(3),
      'CPU s a round: coordinator': perRound('coordinator').toFixed(2),
      'nats-server': perRound('nats').toFixed(2),
      'site processes': perRound('sites').toFixed(2),
      'cores busy': `${(100 * busy).toFixed(0)}%`,
      'coordinator peak MiB': res.coordinatorPeakMiB.toFixed(0),
      'memory bound MiB': memBound.toFixed(0),
      'site process peak MiB': res.sitePeakMiB.toFixed(0),
    });
    report(
      'round',
      {
        sites: c.sites,
        processes: Math.min(c.processes, c.sites),
        params: c.params,
        rounds: o.rounds,
        medianSeconds: round(med),
        roundSeconds: seconds.map((s) => round(s)),
        toFirstAcceptedSeconds: round(phase('first')),
        acceptingSeconds: round(phase('rest')),
        commitSeconds: round(phase('commit')),
        fileStoreMbps: round(res.raw.mbps, 1),
        boundSeconds: round(boundSeconds),
        peakMiB: round(res.coordinatorPeakMiB, 0),
        memoryBoundMiB: round(memBound, 0),
        memoryMet: res.coordinatorPeakMiB <= memBound,
        sitePeakMiB: round(res.sitePeakMiB, 0),
        cpuSecondsPerRound: { coordinator: round(perRound('coordinator')), nats: round(perRound('nats')), sites: round(perRound('sites')) },
        coresBusy: round(busy),
      },
      { ratio: boundSeconds / med, target: c.target, met },
    );
  }
  table(rows);
}
