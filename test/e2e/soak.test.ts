import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeSafetensors, seededRandom, writeKeyFile } from '@tributary/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { addSites, startProcessStack, type ProcessStack } from '../helpers/process-stack.js';
import { toyModel } from '../helpers/training.js';

const SOAK_SITES = fileURLToPath(new URL('../helpers/soak-sites.mjs', import.meta.url));

/**
 * Soak test 6. The normal suite runs the short variant; `.ci/run` runs the long one
 * (TRIBUTARY_SOAK=long): 200 rounds, 10 sites in 5 processes, site processes killed with kill -9
 * and restarted, and the coordinator killed twice.
 */
const LONG = process.env['TRIBUTARY_SOAK'] === 'long';
const PLAN = LONG
  ? { rounds: 200, processes: 5, sitesPerProcess: 2, siteKillEvery: 8, coordinatorKillsAt: [60, 120], timeoutMs: 900_000 }
  : { rounds: 12, processes: 2, sitesPerProcess: 2, siteKillEvery: 4, coordinatorKillsAt: [6], timeoutMs: 240_000 };
/** Coordinator RSS may grow at most this much from the first round after its last restart to the end. */
const RSS_GROWTH_BOUND_BYTES = 128 * 2 ** 20;

interface ToldVerdict {
  site: string;
  updateId: string;
  accepted: boolean;
  round: number;
}

async function rssOf(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return kb ? Number(kb[1]) * 1024 : 0;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Prints what a run that did not finish in time was doing: its rounds, the site processes, their logs. */
async function describeStall(live: ProcessStack, runId: string, sites: ChildProcess[], logs: string[]): Promise<void> {
  const rounds = await live.admin.listRounds(runId).catch((err: unknown) => `listRounds failed: ${String(err)}`);
  const lines = ['soak stalled: the run did not finish in time'];
  if (typeof rounds === 'string') lines.push(rounds);
  else for (const r of rounds) lines.push(`round ${r.number}: ${r.state} accepted ${r.accepted.map((u) => u.site).join(',') || '-'} selected ${r.selectedSites.join(',')} ${r.failureReason}`);
  sites.forEach((child, p) => lines.push(`site process ${p}: pid ${child.pid} exit ${child.exitCode ?? child.signalCode ?? 'running'}`));
  for (const log of logs) {
    const text = await readFile(log, 'utf8').catch(() => '');
    if (text.trim() !== '') lines.push(`${log}:`, ...text.trim().split('\n').slice(-15));
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

describe(`soak (${LONG ? 'long' : 'short'}): ${PLAN.rounds} rounds, ${PLAN.processes * PLAN.sitesPerProcess} sites, random kill -9 of sites and the coordinator`, () => {
  let stack: ProcessStack | undefined;
  const sites: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of sites) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await stack?.stop();
    stack = undefined;
  });

  it('accounts for every round, loses no update a site was told was accepted, counts none twice, and keeps the coordinator RSS bounded', async () => {
    const live = await startProcessStack({ ingest: { payloadTimeout: '5s' } });
    stack = live;
    const random = seededRandom(6);
    const work = join(live.dataDir, '..', 'soak');
    await mkdir(work, { recursive: true });
    const names = Array.from({ length: PLAN.processes * PLAN.sitesPerProcess }, (_, i) => `soak-${i}`);
    await live.admin.createFederation({
      name: 'soak',
      settings: { rounds: PLAN.rounds, minSites: Math.ceil(names.length / 2), roundDeadlineSeconds: 30, strategy: 'fedavg', waitAfterQuorumSeconds: 1 },
      initialModel: encodeSafetensors(toyModel()),
    });
    const keys = await addSites(live, 'soak', names);
    const keyFiles: string[] = [];
    for (const name of names) {
      const file = join(work, `${name}.key`);
      await writeKeyFile(file, keys[name]!);
      keyFiles.push(file);
    }
    const groups = Array.from({ length: PLAN.processes }, (_, p) => keyFiles.slice(p * PLAN.sitesPerProcess, (p + 1) * PLAN.sitesPerProcess));
    // Each site process's stderr goes to a file of its own, shown if the run does not finish.
    const siteLogs: string[] = [];
    // As a partner's supervisor would, a site process that fails by itself (it started while the
    // coordinator was down, and SiteClient.connect does not wait for it) is started again; the
    // count is printed with the figures.
    let siteRestarts = 0;
    let ending = false;
    const startSites = (p: number): void => {
      const log = join(work, `sites-${p}-${siteLogs.length}.log`);
      siteLogs.push(log);
      const fd = openSync(log, 'a');
      const child = spawn(process.execPath, [SOAK_SITES], {
        env: { ...process.env, COORDINATOR: live.address, NATS: live.nats.url, KEY_FILES: groups[p]!.join(','), FEDERATION: 'soak', OUT_DIR: work },
        stdio: ['ignore', 'ignore', fd],
      });
      closeSync(fd);
      sites[p] = child;
      child.once('exit', (code, signal) => {
        // Exit 0: its run ended before the test saw it end; nothing to restart.
        if (ending || code === 0 || signal === 'SIGKILL' || sites[p] !== child) return;
        siteRestarts += 1;
        const last = readFileSync(log, 'utf8').trim().split('\n').filter((l) => /Error|error:/.test(l)).slice(0, 2);
        process.stdout.write(`soak: site process ${p} exited by itself (${code ?? signal}): ${last.join(' / ') || 'no error logged'}\n`);
        setTimeout(() => {
          if (!ending && sites[p] === child) startSites(p);
        }, 500);
      });
    };
    groups.forEach((_, p) => startSites(p));
    const runId = (await live.admin.startRun('soak')).id;

    let siteKills = 0;
    let coordinatorKills = 0;
    let seen = 0;
    let rssStart = 0;
    let rssStartRound = 0;
    // Stops waiting in time to say why, rather than at the test's timeout with nothing to show.
    const giveUpAt = Date.now() + PLAN.timeoutMs - 20_000;
    for (;;) {
      if (Date.now() > giveUpAt) {
        await describeStall(live, runId, sites, siteLogs);
        break;
      }
      const run = await live.admin.getRun(runId).catch(() => undefined);
      if (run !== undefined && run.status !== 'RUN_STATUS_RUNNING') break;
      while (run !== undefined && seen < run.currentRound) {
        seen += 1;
        if (PLAN.coordinatorKillsAt.includes(seen)) {
          await live.killCoordinator();
          await live.startCoordinator();
          coordinatorKills += 1;
          rssStart = 0;
        } else if (seen % PLAN.siteKillEvery === 0) {
          const p = Math.floor(random() * sites.length);
          const victim = sites[p]!;
          const exited = new Promise<void>((resolve) => victim.once('exit', () => resolve()));
          victim.kill('SIGKILL');
          await exited;
          startSites(p);
          siteKills += 1;
        }
        if (rssStart === 0 && coordinatorKills === PLAN.coordinatorKillsAt.length) {
          rssStart = await rssOf(live.child.pid);
          rssStartRound = seen;
        }
      }
      await pause(100);
    }
    ending = true;
    const rssEnd = await rssOf(live.child.pid);
    const ended = await live.admin.getRun(runId);
    const rounds = await live.admin.listRounds(runId);

    const told: ToldVerdict[] = [];
    for (const file of (await readdir(work)).filter((f) => f.startsWith('verdicts-'))) {
      for (const line of (await readFile(join(work, file), 'utf8')).split('\n')) if (line.trim() !== '') told.push(JSON.parse(line) as ToldVerdict);
    }
    const accepted = rounds.flatMap((r) => r.accepted.map((u) => ({ round: r.number, site: u.site, updateId: u.updateId })));
    const acceptedIds = new Set(accepted.map((u) => u.updateId));
    const toldAccepted = told.filter((v) => v.accepted);
    const lost = toldAccepted.filter((v) => !acceptedIds.has(v.updateId));
    const figures = {
      rounds: rounds.length,
      committed: rounds.filter((r) => r.state === 'ROUND_STATE_COMMITTED').length,
      failed: rounds.filter((r) => r.state === 'ROUND_STATE_FAILED').length,
      updatesAccepted: accepted.length,
      verdictsToldAccepted: toldAccepted.length,
      siteKills,
      siteRestarts,
      coordinatorKills,
      updatesLost: lost.length,
      coordinatorRssStartMiB: Math.round(rssStart / 2 ** 20),
      rssStartRound,
      coordinatorRssEndMiB: Math.round(rssEnd / 2 ** 20),
    };
    process.stdout.write(`soak figures: ${JSON.stringify(figures)}\n`);

    expect(ended.status).toBe('RUN_STATUS_FINISHED');
    // Every round is accounted for: 1..N, each final.
    expect(rounds.map((r) => r.number)).toEqual(Array.from({ length: PLAN.rounds }, (_, i) => i + 1));
    for (const r of rounds) expect(['ROUND_STATE_COMMITTED', 'ROUND_STATE_FAILED'], `round ${r.number}`).toContain(r.state);
    // No update a site was told was accepted is missing, and none is counted twice.
    expect(lost).toEqual([]);
    expect(acceptedIds.size).toBe(accepted.length);
    for (const r of rounds) expect(new Set(r.accepted.map((u) => u.site)).size, `round ${r.number}`).toBe(r.accepted.length);
    expect(siteKills).toBeGreaterThan(0);
    expect(coordinatorKills).toBe(PLAN.coordinatorKillsAt.length);
    expect(rssEnd - rssStart).toBeLessThan(RSS_GROWTH_BOUND_BYTES);
    await rm(work, { recursive: true, force: true });
  }, PLAN.timeoutMs);
});
