import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors, roundCounts, tensor, type RunEventDetail, type RunEvent__Output, type SigningKey } from '@tributary/proto';
import { addSite, startStack, type Stack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';
import type { RawSite } from '../helpers/raw-site.js';
import { progressLine } from '../../coordinator/src/cli/commands/run/watch.js';

const UPDATE_LEVEL = new Set(['UPDATE_ACCEPTED', 'UPDATE_REFUSED', 'SITE_FAILED', 'EVALUATION_RECEIVED']);
const SITES = ['ca', 'cb', 'cc'];

/** Every event of one WatchRun stream of `runId`, in order, until RUN_ENDED. */
async function collect(stack: Stack, runId: string, detail: RunEventDetail): Promise<RunEvent__Output[]> {
  const events: RunEvent__Output[] = [];
  for await (const e of stack.admin.watchRun(runId, { detail })) events.push(e);
  return events;
}

/** The round's accepted sites and refusals as a watcher rebuilds them from the SNAPSHOT and each event's delta. */
function rebuilt(events: RunEvent__Output[]): { accepted: string[]; refused: string[] } {
  const snapshot = events[0]?.round;
  const accepted = new Set(snapshot?.accepted.map((u) => u.site) ?? []);
  const refused = new Set(snapshot?.refused.map((r) => `${r.site}:${r.reason}`) ?? []);
  for (const e of events) {
    if (e.type === 'UPDATE_ACCEPTED' && e.update !== null) accepted.add(e.update.site);
    if (e.type === 'UPDATE_REFUSED' && e.refusal !== null) refused.add(`${e.refusal.site}:${e.refusal.reason}`);
  }
  return { accepted: [...accepted].sort(), refused: [...refused].sort() };
}

describe('compact run events', () => {
  let stack: Stack;
  let raw: RawSite;
  const keys = new Map<string, SigningKey>();
  let full: RunEvent__Output[];
  let compact: RunEvent__Output[];

  beforeAll(async () => {
    stack = await startStack();
    raw = await stack.rawSite();
    const base = toyModel();
    await stack.admin.createFederation({ name: 'compact', settings: { rounds: 1, minSites: SITES.length, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(base) });
    for (const site of SITES) keys.set(site, await addSite(stack, site, ['compact']));
    const run = await stack.admin.startRun('compact');
    const watching = Promise.all([collect(stack, run.id, 'RUN_EVENT_DETAIL_FULL'), collect(stack, run.id, 'RUN_EVENT_DETAIL_COMPACT')]);
    // Let both streams take their SNAPSHOT before anything happens.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const send = (site: string, weights: ReturnType<typeof toyModel>) =>
      raw.send({ key: keys.get(site) as SigningKey, site, federation: 'compact', runId: run.id, round: 1, weights });
    // A refused update first (a value that is not finite), then every site's good one.
    const poisoned = toyTrain(base, 'ca', 1);
    poisoned['b'] = tensor('F32', [3], new Float32Array([Number.NaN, 0, 0]));
    expect((await send('ca', poisoned)).state).toBe('UPDATE_STATE_REFUSED');
    for (const site of SITES) expect((await send(site, toyTrain(base, site, 1))).state).toBe('UPDATE_STATE_ACCEPTED');
    [full, compact] = await watching;
  }, 120_000);

  afterAll(async () => {
    await raw?.close();
    await stack?.stop();
  });

  it('sends the same events in both details, ending with RUN_ENDED', () => {
    expect(compact.map((e) => e.type)).toEqual(full.map((e) => e.type));
    expect(compact.at(-1)?.type).toBe('RUN_ENDED');
    expect(compact.filter((e) => e.type === 'UPDATE_ACCEPTED')).toHaveLength(SITES.length);
    expect(compact.filter((e) => e.type === 'UPDATE_REFUSED')).toHaveLength(1);
  });

  it('leaves the per-site lists out of compact update events but carries their counts and the delta', () => {
    const updates = compact.filter((e) => UPDATE_LEVEL.has(e.type));
    expect(updates.length).toBeGreaterThan(0);
    for (const e of updates) {
      expect(e.round).toMatchObject({ listsOmitted: true, selectedSites: [], accepted: [], refused: [], siteFailures: [], selectedCount: SITES.length });
      expect(e.update !== null || e.refusal !== null).toBe(true);
    }
    expect(updates.filter((e) => e.type === 'UPDATE_ACCEPTED').map((e) => e.round?.acceptedCount)).toEqual([1, 2, 3]);
    expect(updates.find((e) => e.type === 'UPDATE_REFUSED')?.round?.refusedCount).toBe(1);
  });

  it('gives compact and full update events the same counts', () => {
    const counts = (events: RunEvent__Output[]) => events.filter((e) => UPDATE_LEVEL.has(e.type)).map((e) => (e.round === null ? null : roundCounts(e.round)));
    expect(counts(compact)).toEqual(counts(full));
    for (const e of full.filter((x) => UPDATE_LEVEL.has(x.type))) expect(e.round?.listsOmitted).toBe(false);
  });

  it('carries the full round in the SNAPSHOT and in round transitions whatever the detail', () => {
    const transitions = (events: RunEvent__Output[]) => events.filter((e) => !UPDATE_LEVEL.has(e.type)).map((e) => ({ type: e.type, round: e.round, run: e.run }));
    expect(transitions(compact)).toEqual(transitions(full));
    const committed = compact.find((e) => e.type === 'ROUND_COMMITTED');
    expect(committed?.round).toMatchObject({ listsOmitted: false, acceptedCount: SITES.length });
    expect(committed?.round?.accepted.map((u) => u.site).sort()).toEqual([...SITES].sort());
  });

  it('draws the same progress line of `run watch` from a compact update event as from a full one', () => {
    const lines = (events: RunEvent__Output[]) =>
      events.filter((e) => e.type === 'UPDATE_ACCEPTED' && e.run !== null && e.round !== null).map((e) => progressLine(e.run!, e.round!, '', e.atMs));
    expect(lines(compact)).toEqual(lines(full));
    expect(lines(compact).at(-1)).toMatch(/accepted 3\/3 {2}refused 1/);
  });

  it('lets a compact watcher rebuild the same final round as a full one', async () => {
    const runId = full[0]?.run?.id as string;
    const stored = await stack.admin.getRound(runId, 1);
    const expected = { accepted: stored.accepted.map((u) => u.site).sort(), refused: stored.refused.map((r) => `${r.site}:${r.reason}`).sort() };
    expect(rebuilt(compact)).toEqual(expected);
    expect(rebuilt(full)).toEqual(expected);
    const last = (events: RunEvent__Output[]) => events.filter((e) => e.round !== null).at(-1)?.round;
    expect(last(compact)).toEqual(last(full));
    expect(expected.refused).toEqual(['ca:NON_FINITE']);
  });
});
