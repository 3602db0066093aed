import { TributaryError, encodeSafetensors, type SigningKey } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejection } from '../helpers/errors.js';
import { RawSite } from '../helpers/raw-site.js';
import { addSite, eventually, startStack, type Stack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

describe('blob retention', () => {
  let stack: Stack;
  let raw: RawSite;
  let key: SigningKey;
  const federation = 'retained';
  const base = toyModel();

  beforeAll(async () => {
    stack = await startStack();
    raw = await stack.rawSite();
    await stack.admin.createFederation({ name: federation, settings: { rounds: 3, keepVersions: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(base) });
    key = await addSite(stack, 'site', [federation]);
    const run = await stack.admin.startRun(federation);
    for (let round = 1; round <= 3; round++) {
      await eventually(async () => ((await stack.admin.getRun(run.id)).currentRound === round ? true : undefined));
      const v = await raw.send({ key, site: 'site', federation, runId: run.id, round, weights: toyTrain(base, 'site', round) });
      expect(v).toMatchObject({ state: 'UPDATE_STATE_ACCEPTED' });
    }
    expect((await stack.admin.waitForRun(run.id)).status).toBe('RUN_STATUS_FINISHED');
  });
  afterAll(async () => {
    await raw?.close();
    await stack?.stop();
  });

  it('deletes the blobs of versions beyond keep_versions and reports the bytes freed', async () => {
    const versions = await stack.admin.listModelVersions(federation);
    expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4]);
    const released = versions.slice(0, 3).reduce((n, v) => n + v.size, 0);
    const gc = await stack.admin.collectGarbage(federation);
    expect(gc).toMatchObject({ versionsKept: 1, versionsReleased: 3, blobsDeleted: 3, bytesFreed: released });
  });

  it('keeps the newest version downloadable, and answers NOT_FOUND for a released one', async () => {
    expect((await stack.admin.downloadModel(federation, 4)).version).toBe(4);
    const err = TributaryError.from(await rejection(stack.admin.downloadModel(federation, 2)));
    expect(err.code).toBe('NOT_FOUND');
  });

  it('keeps the version records and their lineage', async () => {
    const versions = await stack.admin.listModelVersions(federation);
    expect(versions.map((v) => v.parentVersion)).toEqual([0, 1, 2, 3]);
  });

  it('frees nothing the second time', async () => {
    expect(await stack.admin.collectGarbage(federation)).toMatchObject({ blobsDeleted: 0, bytesFreed: 0 });
  });

  it('never deletes a blob another federation still keeps', async () => {
    // Created from the same weights as "retained"'s released version 1: one blob, shared.
    await stack.admin.createFederation({ name: 'sharing', settings: {}, initialModel: encodeSafetensors(base) });
    await stack.admin.collectGarbage('retained');
    await stack.admin.collectGarbage('sharing');
    expect((await stack.admin.downloadModel('sharing', 1)).version).toBe(1);
  });

  it('never deletes a blob a deleted federation keeps: its lineage stays whole for the record', async () => {
    // "sharing" holds the weights of "retained"'s released version 1; once deleted, it still keeps them.
    await stack.admin.deleteFederation({ name: 'sharing' });
    expect(await stack.admin.collectGarbage('retained')).toMatchObject({ blobsDeleted: 0, bytesFreed: 0 });
  });
});
