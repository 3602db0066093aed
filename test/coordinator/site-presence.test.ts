import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SitePresence } from '../../coordinator/src/sites/presence.js';
import { LevelStateStore, MemorySiteLastSeenTable, type SiteLastSeenTable } from '../../coordinator/src/state/index.js';
import { eventually } from '../helpers/stack.js';

const logger = pino({ level: 'silent' });
/** Long enough that the periodic write never runs during a test: writes happen at flush() and close(). */
const NEVER = 3_600_000;

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('site presence', () => {
  it('keeps the exact latest time in memory and stores a chatty site once per write', async () => {
    const c = clock();
    const table = new MemorySiteLastSeenTable();
    const presence = await SitePresence.open({ table, logger, writeIntervalMs: NEVER, now: c.now });
    for (let i = 0; i < 1000; i++) {
      c.advance(10);
      presence.seen('clinic-a');
    }
    expect(await presence.of('clinic-a')).toEqual({ lastSeenAtMs: c.now(), connected: false });
    expect(table.writes).toBe(0);
    await presence.flush();
    expect(table.writes).toBe(1);
    expect(table.stored.get('clinic-a')).toBe(c.now());
    await presence.close();
  });

  it('writes nothing when no time changed since the last write', async () => {
    const table = new MemorySiteLastSeenTable();
    const presence = await SitePresence.open({ table, logger, writeIntervalMs: NEVER });
    presence.seen('clinic-a', 5_000);
    await presence.flush();
    await presence.flush();
    await presence.close();
    expect(table.writes).toBe(1);
  });

  it('writes by itself once the write interval has passed', async () => {
    const table = new MemorySiteLastSeenTable();
    const presence = await SitePresence.open({ table, logger, writeIntervalMs: 50 });
    presence.seen('clinic-a', 5_000);
    await eventually(() => table.stored.get('clinic-a'));
    expect(table.stored.get('clinic-a')).toBe(5_000);
    await presence.close();
  });

  it('ignores a time older than the one it knows (a message delivered again)', async () => {
    const presence = await SitePresence.open({ table: new MemorySiteLastSeenTable(), logger, writeIntervalMs: NEVER });
    presence.seen('clinic-a', 9_000);
    presence.seen('clinic-a', 4_000);
    expect((await presence.of('clinic-a')).lastSeenAtMs).toBe(9_000);
    await presence.close();
  });

  it("answers never seen for a site created after the time it knows (a removed site's name given again)", async () => {
    const presence = await SitePresence.open({ table: new MemorySiteLastSeenTable(), logger, writeIntervalMs: NEVER });
    presence.seen('clinic-a', 9_000);
    expect(await presence.of('clinic-a', 10_000)).toEqual({ lastSeenAtMs: 0, connected: false });
    expect((await presence.of('clinic-a', 8_000)).lastSeenAtMs).toBe(9_000);
    await presence.close();
  });

  it('answers never seen and not connected for a site it never heard from', async () => {
    const presence = await SitePresence.open({ table: new MemorySiteLastSeenTable(), logger, writeIntervalMs: NEVER });
    expect(await presence.of('clinic-z')).toEqual({ lastSeenAtMs: 0, connected: false });
    await presence.close();
  });

  it('counts a site connected while any of its streams is open, and seen now meanwhile', async () => {
    const c = clock();
    const presence = await SitePresence.open({ table: new MemorySiteLastSeenTable(), logger, writeIntervalMs: NEVER, now: c.now });
    const first = presence.streamOpened('clinic-a');
    const second = presence.streamOpened('clinic-a');
    c.advance(60_000);
    expect(await presence.of('clinic-a')).toEqual({ lastSeenAtMs: c.now(), connected: true });
    first();
    first();
    expect((await presence.of('clinic-a')).connected).toBe(true);
    c.advance(1_000);
    second();
    c.advance(5_000);
    expect(await presence.of('clinic-a')).toEqual({ lastSeenAtMs: c.now() - 5_000, connected: false });
    await presence.close();
  });

  it('stores a connected site as seen at the time of the write', async () => {
    const c = clock();
    const table = new MemorySiteLastSeenTable();
    const presence = await SitePresence.open({ table, logger, writeIntervalMs: NEVER, now: c.now });
    presence.streamOpened('clinic-a');
    await presence.flush();
    c.advance(30_000);
    await presence.flush();
    expect(table.stored.get('clinic-a')).toBe(c.now());
    await presence.close();
  });

  it('keeps a failed write for the next one', async () => {
    const table = new MemorySiteLastSeenTable();
    let fail = true;
    const failing = {
      get: (sites: readonly string[]) => table.get(sites),
      save: async (lastSeen: ReadonlyMap<string, number>) => {
        if (fail) throw new Error('disk full');
        await table.save(lastSeen);
      },
    };
    const presence = await SitePresence.open({ table: failing, logger, writeIntervalMs: NEVER });
    presence.seen('clinic-a', 7_000);
    await presence.flush();
    expect(table.stored.size).toBe(0);
    fail = false;
    await presence.flush();
    expect(table.stored.get('clinic-a')).toBe(7_000);
    await presence.close();
  });

  describe('in the state LevelDB', () => {
    let dir: string;
    let state: LevelStateStore;

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tributary-presence-'));
      state = new LevelStateStore(dir);
      await state.open();
    });

    afterEach(async () => {
      await state.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('finds last seen again after the store is closed and opened, and no site connected', async () => {
      const presence = await SitePresence.open({ table: state.siteLastSeenTable(), logger, writeIntervalMs: NEVER });
      presence.seen('clinic-a', 12_345);
      presence.streamOpened('clinic-b');
      await presence.close();
      await state.close();
      state = new LevelStateStore(dir);
      await state.open();
      const reopened = await SitePresence.open({ table: state.siteLastSeenTable(), logger, writeIntervalMs: NEVER });
      expect(await reopened.of('clinic-a')).toEqual({ lastSeenAtMs: 12_345, connected: false });
      expect((await reopened.of('clinic-b')).connected).toBe(false);
      expect((await reopened.of('clinic-b')).lastSeenAtMs).toBeGreaterThan(0);
      await reopened.close();
    });

    /** The state table, recording which sites each write carried. */
    function recordingTable(): { table: SiteLastSeenTable; batches: string[][] } {
      const level = state.siteLastSeenTable();
      const batches: string[][] = [];
      const table: SiteLastSeenTable = {
        get: (sites) => level.get(sites),
        save: async (lastSeen) => {
          batches.push([...lastSeen.keys()].sort());
          await level.save(lastSeen);
        },
      };
      return { table, batches };
    }

    it('writes only the sites heard from since the last write', async () => {
      const { table, batches } = recordingTable();
      const presence = await SitePresence.open({ table, logger, writeIntervalMs: NEVER });
      presence.seen('clinic-a', 1_000);
      presence.seen('clinic-b', 1_000);
      presence.seen('clinic-c', 1_000);
      await presence.flush();
      presence.seen('clinic-b', 2_000);
      await presence.flush();
      await presence.flush();
      await presence.close();
      expect(batches).toEqual([['clinic-a', 'clinic-b', 'clinic-c'], ['clinic-b']]);
      expect(await state.siteLastSeenTable().get(['clinic-a', 'clinic-b', 'clinic-c'])).toEqual([1_000, 2_000, 1_000]);
    });

    it('forgets the sites it wrote that are idle, keeps the connected ones, and answers from the table', async () => {
      const { table } = recordingTable();
      const presence = await SitePresence.open({ table, logger, writeIntervalMs: NEVER });
      for (let i = 0; i < 1_000; i++) presence.seen(`site-${i}`, 5_000 + i);
      presence.streamOpened('clinic-a');
      expect(presence.size).toBe(1_001);
      await presence.flush();
      expect(presence.size).toBe(1);
      expect(await presence.of('site-7')).toEqual({ lastSeenAtMs: 5_007, connected: false });
      expect(await presence.ofSites([{ name: 'site-1' }, { name: 'clinic-a' }, { name: 'site-2', createdAtMs: 9_000 }])).toEqual([
        { lastSeenAtMs: 5_001, connected: false },
        { lastSeenAtMs: expect.any(Number), connected: true },
        { lastSeenAtMs: 0, connected: false },
      ]);
      await presence.close();
    });

    it('never stores an older time over a newer one of a site it forgot (a message delivered again)', async () => {
      const { table } = recordingTable();
      const presence = await SitePresence.open({ table, logger, writeIntervalMs: NEVER });
      presence.seen('clinic-a', 9_000);
      await presence.flush();
      presence.seen('clinic-a', 4_000);
      expect((await presence.of('clinic-a')).lastSeenAtMs).toBe(9_000);
      await presence.flush();
      expect(await state.siteLastSeenTable().get(['clinic-a'])).toEqual([9_000]);
      presence.seen('clinic-a', 12_000);
      await presence.close();
      expect(await state.siteLastSeenTable().get(['clinic-a'])).toEqual([12_000]);
    });

    it('refuses a write once the store is closed', async () => {
      const table = state.siteLastSeenTable();
      await state.close();
      await expect(table.save(new Map([['clinic-a', 1]]))).rejects.toMatchObject({ reason: 'STATE_STORE_UNAVAILABLE' });
      state = new LevelStateStore(dir);
      await state.open();
    });
  });
});
