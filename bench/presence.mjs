// Site presence: what recording "last seen" costs a call, and what the write throttle saves.
// Every authenticated site call and verified update or metric batch calls `seen()`; the state
// store gets each site's time at most once per write interval. Measured: `seen()` per call, one
// periodic write of every site's time, and against it the naive design, one LevelDB put per call.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { SitePresence } from '../coordinator/dist/sites/presence.js';
import { LevelStateStore } from '../coordinator/dist/state/level-store.js';
import { options, report, round, table } from './stack.mjs';

export async function run(args, { quick = false } = {}) {
  const o = options(args, { sites: quick ? 100 : 1000, calls: quick ? 100_000 : 1_000_000, puts: quick ? 2_000 : 20_000 });
  const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-presence-'));
  try {
    const state = new LevelStateStore(join(dir, 'state'));
    await state.open();
    const table_ = state.siteLastSeenTable();
    let writes = 0;
    const counting = { get: (sites) => table_.get(sites), save: async (m) => ((writes += 1), table_.save(m)) };
    // The periodic write is driven by hand here (flush), as the 30 s timer would.
    const presence = await SitePresence.open({ table: counting, logger: pino({ level: 'silent' }), writeIntervalMs: 3_600_000 });
    const names = Array.from({ length: o.sites }, (_, i) => `site-${i}`);

    let t = performance.now();
    for (let i = 0; i < o.calls; i++) presence.seen(names[i % o.sites], 1_000_000 + i);
    const seenNs = ((performance.now() - t) * 1e6) / o.calls;

    t = performance.now();
    await presence.flush();
    const flushMs = performance.now() - t;
    // Written and idle, every site is forgotten; a later write carries only the sites heard from since.
    const keptAfterWrite = presence.size;
    const fewDirty = Math.max(1, Math.floor(o.sites / 100));
    for (let i = 0; i < fewDirty; i++) presence.seen(names[i], 3_000_000 + i);
    t = performance.now();
    await presence.flush();
    const fewFlushMs = performance.now() - t;
    await presence.close();

    // The naive design: a put of the site's time on every call.
    const db = state.siteLastSeenTable();
    t = performance.now();
    for (let i = 0; i < o.puts; i++) await db.save(new Map([[names[i % o.sites], 2_000_000 + i]]));
    const putMs = (performance.now() - t) / o.puts;
    await state.close();

    table([
      {
        sites: o.sites,
        calls: o.calls,
        'seen() ns/call': seenNs.toFixed(0),
        'writes (throttled)': writes,
        'one write of all sites ms': flushMs.toFixed(1),
        'sites kept after it': keptAfterWrite,
        [`next write of ${fewDirty} sites ms`]: fewFlushMs.toFixed(1),
        'put per call ms': putMs.toFixed(3),
        'puts for all calls s': ((putMs * o.calls) / 1000).toFixed(1),
      },
    ]);
    // The target: recording a call costs well under a microsecond, against a LevelDB put per call.
    report('presence', { sites: o.sites, calls: o.calls, seenNs: round(seenNs, 0), writes, flushMs: round(flushMs, 1), keptAfterWrite, fewDirty, fewFlushMs: round(fewFlushMs, 1), putPerCallMs: round(putMs) }, { ratio: seenNs / (putMs * 1e6), target: 'seen() < 1000 ns', met: seenNs < 1000 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
