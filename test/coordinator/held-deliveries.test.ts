import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AckPolicy, type JsMsg } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeldDeliveries } from '../../coordinator/src/ingest/held-deliveries.js';
import { silentLogger } from '../../coordinator/src/observability/logger.js';
import { startDataPlane, type DataPlane } from '../helpers/data-plane.js';

const STREAM = 'HELD_TEST';

describe('the record of manifests in progress', () => {
  let plane: DataPlane;
  let seq = 0;

  beforeAll(async () => {
    plane = await startDataPlane('tributary-held-');
    await plane.jsm.streams.add({ name: STREAM, subjects: ['held.>'] });
  });
  afterAll(async () => {
    await plane?.stop();
  });

  /** A real JetStream delivery, unacknowledged. */
  async function delivery(): Promise<JsMsg> {
    const name = `c${++seq}`;
    await plane.js.publish(`held.${name}`, new Uint8Array([seq]));
    await plane.jsm.consumers.add(STREAM, { durable_name: name, ack_policy: AckPolicy.Explicit, filter_subject: `held.${name}` });
    const m = await (await plane.js.consumers.get(STREAM, name)).next({ expires: 5_000 });
    if (m === null) throw new Error('no delivery');
    return m;
  }

  async function listed(path: string): Promise<string[]> {
    return JSON.parse(await readFile(path, 'utf8')) as string[];
  }

  it('is on disk, listing the delivery, once add() resolves: a kill -9 during processing still hands it back', async () => {
    const path = join(plane.dir, 'held-1.json');
    const held = new HeldDeliveries(path, silentLogger());
    const m = await delivery();
    await held.add(m);
    expect(await listed(path)).toHaveLength(1);
    expect((await listed(path))[0]).toMatch(/^\$JS\.ACK\./);
  });

  it('lists every delivery of a burst once each add() resolves', async () => {
    const path = join(plane.dir, 'held-2.json');
    const held = new HeldDeliveries(path, silentLogger());
    const burst = await Promise.all([delivery(), delivery(), delivery()]);
    await Promise.all(burst.map((m) => held.add(m)));
    expect(await listed(path)).toHaveLength(3);
  });

  it('forgets a settled delivery in the next rewrite', async () => {
    const path = join(plane.dir, 'held-3.json');
    const held = new HeldDeliveries(path, silentLogger());
    const m = await delivery();
    await held.add(m);
    held.remove(m);
    await held.flushed();
    expect(await listed(path)).toEqual([]);
  });
});
