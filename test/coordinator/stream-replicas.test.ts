import { STREAM_METRICS, STREAM_PAYLOADS, STREAM_UPDATES } from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COORDINATOR_DEFAULTS } from '../../coordinator/src/config/coordinator-options.js';
import { ensureStreams } from '../../coordinator/src/ingest/streams.js';
import { startDataPlane, type DataPlane } from '../helpers/data-plane.js';

describe('stream replicas', () => {
  let plane: DataPlane;
  beforeAll(async () => {
    plane = await startDataPlane('tributary-replicas-');
  });
  afterAll(async () => {
    await plane?.stop();
  });

  it('creates every data plane stream with one replica when none are asked for', async () => {
    for (const name of [STREAM_UPDATES, STREAM_PAYLOADS, STREAM_METRICS]) expect((await plane.jsm.streams.info(name)).config.num_replicas).toBe(1);
  });

  it('fails at start, with the server saying why, when a single server is asked for three replicas', async () => {
    await expect(ensureStreams(plane.jsm, { ...COORDINATOR_DEFAULTS.streams, replicas: 3 })).rejects.toThrow(/has 1 replica\(s\) where 3 were asked/);
  });
});
