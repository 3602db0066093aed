import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { STREAM_METRICS, STREAM_PAYLOADS, STREAM_UPDATES, encodeSafetensors, type SigningKey } from '@tributary/proto';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSite } from '../helpers/raw-site.js';
import { addSite, startStack, type Stack } from '../helpers/stack.js';
import { toyModel, toyTrain } from '../helpers/training.js';

/** Every directory and file under `dir`, with its permission bits. */
async function modes(dir: string): Promise<Array<{ path: string; dir: boolean; mode: number }>> {
  const out: Array<{ path: string; dir: boolean; mode: number }> = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    out.push({ path, dir: entry.isDirectory(), mode: (await stat(path)).mode & 0o777 });
    if (entry.isDirectory()) out.push(...(await modes(path)));
  }
  return out;
}

describe('disk the coordinator uses', () => {
  let stack: Stack;
  let raw: RawSite;
  let key: SigningKey;
  const base = toyModel();

  beforeAll(async () => {
    stack = await startStack({ streams: { payloadsMaxBytes: '64MiB' } }, { natsAuth: false });
    raw = await stack.rawSite();
    await stack.admin.createFederation({ name: 'private', settings: { rounds: 1, roundDeadlineSeconds: 120 }, initialModel: encodeSafetensors(base) });
    key = await addSite(stack, 'site', ['private']);
    const run = await stack.admin.startRun('private');
    expect(await raw.send({ key, site: 'site', federation: 'private', runId: run.id, round: 1, weights: toyTrain(base, 'site', 1) })).toMatchObject({
      state: 'UPDATE_STATE_ACCEPTED',
    });
    await stack.admin.waitForRun(run.id);
  });
  afterAll(async () => {
    await raw?.close();
    await stack?.stop();
  });

  it('gives every stream a size limit: the configured one, or the documented default', async () => {
    const nc = await connect({ servers: [stack.nats.url] });
    try {
      const jsm = await nc.jetstreamManager();
      const maxBytes = async (name: string): Promise<number> => (await jsm.streams.info(name)).config.max_bytes;
      expect(await maxBytes(STREAM_UPDATES)).toBe(256 * 2 ** 20);
      expect(await maxBytes(STREAM_PAYLOADS)).toBe(64 * 2 ** 20);
      expect(await maxBytes(STREAM_METRICS)).toBe(2 ** 30);
    } finally {
      await nc.close();
    }
  });

  it('keeps the data directory, and every directory it makes in it, to its own user (0700)', async () => {
    expect((await stat(stack.dataDir)).mode & 0o777).toBe(0o700);
    const ours = ['staging', 'state', 'blobs', 'scratch'].map((d) => join(stack.dataDir, d));
    for (const dir of ours) expect((await stat(dir)).mode & 0o777, dir).toBe(0o700);
    const blobDirs = (await modes(join(stack.dataDir, 'blobs'))).filter((e) => e.dir);
    expect(blobDirs.length).toBeGreaterThan(0);
    for (const d of blobDirs) expect(d.mode, d.path).toBe(0o700);
  });

  it('writes blobs (model versions and accepted payloads) and the call nonces readable by its own user only (0600)', async () => {
    const blobs = (await modes(join(stack.dataDir, 'blobs'))).filter((e) => !e.dir);
    // The initial model, and the accepted payload (the mean of one update is that update: the same blob).
    expect(blobs.length).toBeGreaterThanOrEqual(2);
    for (const b of blobs) expect(b.mode, b.path).toBe(0o600);
    const nonces = await modes(join(stack.dataDir, 'call-nonces'));
    expect(nonces.filter((e) => !e.dir).length).toBeGreaterThan(0);
    for (const n of nonces) expect(n.mode, n.path).toBe(n.dir ? 0o700 : 0o600);
    expect((await stat(join(stack.dataDir, 'call-nonces'))).mode & 0o777).toBe(0o700);
  });
});
