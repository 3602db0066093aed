// Several partner sites in one OS process, so a soak test can kill -9 them together: each joins
// FEDERATION with the SDK, trains by adding a small delta to every weight, and appends each
// verdict it is told to OUT_DIR/verdicts-<pid>.jsonl (one JSON line, written synchronously
// before the next task), which the test compares with what the coordinator accepted.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { SiteClient } from '@tributary/client-sdk';
import { tensor } from '@tributary/proto';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const out = join(env('OUT_DIR'), `verdicts-${process.pid}.jsonl`);
const controller = new AbortController();
process.on('SIGTERM', () => controller.abort());
const clients = await Promise.all(env('KEY_FILES').split(',').map((key) => SiteClient.connect({ coordinator: env('COORDINATOR'), nats: env('NATS'), key })));
await Promise.all(
  clients.map((client) =>
    client.participate(
      env('FEDERATION'),
      async (task) => {
        const weights = {};
        for (const [name, t] of Object.entries(task.model)) weights[name] = tensor(t.dtype, [...t.shape], Float32Array.from(t.data, (v) => v + 0.001));
        return { weights, numExamples: 10, metrics: { loss: 1 / task.round } };
      },
      {
        signal: controller.signal,
        onVerdict: (v) => appendFileSync(out, JSON.stringify({ site: client.site, updateId: v.updateId, accepted: v.accepted, round: v.round, reason: v.reason }) + '\n'),
      },
    ),
  ),
);
await Promise.all(clients.map((c) => c.close()));
