import { encodeSafetensors, type RunEvent__Output, type SigningKey, type TensorMap } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSite } from '../helpers/raw-site.js';
import { addSite, eventually, startStack, type Stack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

/** Copies of one valid signed envelope sent by someone who saw it on the wire. */
const REPLAYS = 40;

describe('replayed updates', () => {
  let stack: Stack;
  let raw: RawSite;
  let runId = '';
  let keys: Record<string, SigningKey> = {};
  const federation = 'replayed';
  const base = toyModel();
  const events: RunEvent__Output[] = [];
  const watching = new AbortController();
  let replaysCounted = 0;

  beforeAll(async () => {
    stack = await startStack();
    raw = await stack.rawSite();
    await stack.admin.createFederation({
      name: federation,
      settings: { rounds: 2, minSites: 2, sampleCount: 2, roundDeadlineSeconds: 120 },
      initialModel: encodeSafetensors(base),
    });
    keys = { alpha: await addSite(stack, 'alpha', [federation]), beta: await addSite(stack, 'beta', [federation]) };
    runId = (await stack.admin.startRun(federation)).id;
    void (async () => {
      for await (const e of stack.admin.watchRun(runId, { signal: watching.signal })) events.push(e);
    })().catch(() => undefined);
  });
  afterAll(async () => {
    watching.abort();
    await raw?.close();
    await stack?.stop();
  });

  const honest = (site: string): TensorMap => toyTrain(base, site, 1);
  const send = (site: string, extra: Partial<Parameters<RawSite['send']>[0]> = {}) =>
    raw.send({ key: keys[site] as SigningKey, site, federation, runId, round: 1, weights: honest(site), ...extra });

  /** Sends the last envelope again `times` times, byte for byte, and waits until every copy is counted. */
  async function replay(times: number): Promise<void> {
    const last = raw.lastEnvelope;
    if (!last) throw new Error('nothing sent');
    for (let i = 0; i < times; i++) await raw.sendGarbage(last.subject, last.bytes);
    replaysCounted += times;
    await eventually(async () => {
      const metric = await stack.coordinator.metrics.registry.getSingleMetricAsString('tributary_updates_refused_total');
      return metric.includes(`reason="REPLAYED_UPDATE"} ${replaysCounted}`) ? true : undefined;
    });
  }

  it('counts replays of an accepted update without adding them to the round or announcing them', async () => {
    expect(await send('alpha')).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    await replay(REPLAYS);
    // A refusal sent after the replays were counted: its event marks that the ones before it were seen.
    expect(await send('beta', { round: 2 })).toMatchObject({ reason: 'WRONG_ROUND' });
    await eventually(() => events.some((e) => e.type === 'UPDATE_REFUSED' && e.refusal?.reason === 'WRONG_ROUND') || undefined);
    expect(events.filter((e) => e.type === 'UPDATE_REFUSED').map((e) => e.refusal?.reason)).toEqual(['WRONG_ROUND']);
    const round = await stack.admin.getRound(runId, 1);
    expect(round.refused.map((r) => r.reason)).toEqual(['WRONG_ROUND']);
    expect(round.accepted).toHaveLength(1);
  });

  it('answers a replay with the verdict its update first got', async () => {
    const last = raw.lastEnvelope;
    if (!last) throw new Error('nothing sent');
    const updateId = (await stack.admin.getRound(runId, 1)).refused[0]?.updateId ?? '';
    const verdict = raw.verdict(federation, 'beta', updateId);
    await raw.sendGarbage(last.subject, last.bytes);
    replaysCounted += 1;
    expect(await verdict).toMatchObject({ state: 'UPDATE_STATE_REFUSED', reason: 'WRONG_ROUND' });
  });

  it('keeps one entry per site and reason in a round, with how many times it happened', async () => {
    expect(await send('beta', { round: 2 })).toMatchObject({ reason: 'WRONG_ROUND' });
    expect(await send('beta', { round: 2 })).toMatchObject({ reason: 'WRONG_ROUND' });
    const round = await stack.admin.getRound(runId, 1);
    expect(round.refused).toHaveLength(1);
    expect(round.refused[0]).toMatchObject({ site: 'beta', reason: 'WRONG_ROUND', count: 3 });
  });

  it('leaves a committed round exactly as it was when its updates are replayed', async () => {
    expect(await send('beta')).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    // The run goes on to round 2; round 1 is committed and its record final.
    const before = await eventually(async () => {
      const round = await stack.admin.getRound(runId, 1);
      return round.state === 'ROUND_STATE_COMMITTED' ? round : undefined;
    });
    await eventually(async () => ((await stack.admin.getRun(runId)).currentRound === 2 ? true : undefined));
    await replay(REPLAYS);
    expect(await stack.admin.getRound(runId, 1)).toEqual(before);
  });
});
