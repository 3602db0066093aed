// State writes: what "stored before acknowledged" costs. The state store syncs every batch
// (fsync of LevelDB's log) before a verdict or a commit is announced; measured here against the
// same batches unsynced, on the same disk, one at a time as the coordinator writes them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { LevelStateStore } from '../coordinator/dist/state/level-store.js';
import { options, report, round, table } from './stack.mjs';

/** An accepted update and its round, as folding one update writes them. */
function foldWrite(i) {
  const summary = { site: `site-${i % 100}`, updateId: i.toString(16).padStart(32, '0'), numExamples: 100, metrics: { loss: 0.5 }, payloadSha256: 'ab'.repeat(32), flavor: 'tensors', receivedAtMs: Date.now() };
  return [
    { kind: 'update', value: { ...summary, federation: 'bench', runId: 'r', round: 1, state: 'ACCEPTED', reason: '', message: '', atMs: Date.now() } },
    { kind: 'round', value: { federation: 'bench', runId: 'r', number: 1, state: 'ROUND_STATE_OPEN', selectedSites: [], accepted: [summary], refused: [], openedAtMs: 0, deadlineAtMs: 0, closedAtMs: 0, failureReason: '', baseVersion: 1, committedVersion: 0, metrics: {}, bytesReceived: 0, config: {}, evaluation: 'EVALUATION_STATE_NONE' } },
  ];
}

export async function run(args, { quick = false } = {}) {
  const o = options(args, { writes: quick ? 200 : 1000 });
  const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-state-'));
  try {
    const store = new LevelStateStore(join(dir, 'synced'));
    await store.open();
    let t = performance.now();
    for (let i = 0; i < o.writes; i++) await store.write(foldWrite(i));
    const synced = (performance.now() - t) / o.writes;
    await store.close();

    const db = new Level(join(dir, 'unsynced'), { valueEncoding: 'json' });
    await db.open();
    t = performance.now();
    for (let i = 0; i < o.writes; i++) {
      const [u, r] = foldWrite(i);
      await db.batch([
        { type: 'put', key: `u!${u.value.updateId}`, value: u.value },
        { type: 'put', key: 'r!1', value: r.value },
      ]);
    }
    const unsynced = (performance.now() - t) / o.writes;
    await db.close();
    table([{ writes: o.writes, 'synced ms/write': synced.toFixed(3), 'unsynced ms/write': unsynced.toFixed(3), 'synced writes/s': (1000 / synced).toFixed(0) }]);
    // The target: a synced write costs well under the few milliseconds an update's verification takes anyway.
    report('state', { writes: o.writes, syncedMs: round(synced), unsyncedMs: round(unsynced), syncedPerSecond: round(1000 / synced, 0) }, { ratio: synced / unsynced, target: 'synced < 5 ms', met: synced < 5 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
