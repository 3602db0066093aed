import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SitePresence } from '../../coordinator/src/sites/presence.js';
import { LevelStateStore, MemorySiteLastSeenTable } from '../../coordinator/src/state/index.js';
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
    expect(presence.of('clinic-a')).toEqual({ lastSeenAtMs: c.now(), connected: false });
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
    expect(presence.of('clinic-a').lastSeenAtMs).toBe(9_000);
    await presence.close();
  });

  it("answers never seen for a site created after the time it knows (a removed site's name given again)", async () => {
    const presence = await SitePresence.open({ table: new MemorySiteLastSeenTable(), logger, writeIntervalMs: NEVER });
    presence.seen('clinic-a', 9_000);
    expect(presence.of('clinic-a', 10_000)).toEqual({ lastSeenAtMs: 0, connected: false });
    expect(presence.of('clinic-a', 8_000).lastSeenAtMs).toBe(9_000);
    await presence.close();
  });

  it('answers never seen and not connected for a site it never heard from', async () => {
    const presence = await SitePresence.open({ table: new MemorySiteLastSeenTable(), logger, writeIntervalMs: NEVER });
    expect(presence.of('clinic-z')).toEqual({ lastSeenAtMs: 0, connected: false });
    await presence.close();
  });

  it('counts a site connected while any of its streams is open, and seen now meanwhile', async () => {
    const c = clock();
    const presence = await SitePresence.open({ table: new MemorySiteLastSeenTable(), logger, writeIntervalMs: NEVER, now: c.now });
    const first = presence.streamOpened('clinic-a');
    const second = presence.streamOpened('clinic-a');
    c.advance(60_000);
    expect(presence.of('clinic-a')).toEqual({ lastSeenAtMs: c.now(), connected: true });
    first();
    first();
    expect(presence.of('clinic-a').connected).toBe(true);
    c.advance(1_000);
    second();
    c.advance(5_000);
    expect(presence.of('clinic-a')).toEqual({ lastSeenAtMs: c.now() - 5_000, connected: false });
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
      load: () => table.load(),
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
      expect(reopened.of('clinic-a')).toEqual({ lastSeenAtMs: 12_345, connected: false });
      expect(reopened.of('clinic-b').connected).toBe(false);
      expect(reopened.of('clinic-b').lastSeenAtMs).toBeGreaterThan(0);
      await reopened.close();
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
