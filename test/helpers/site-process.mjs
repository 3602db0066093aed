// A partner site in its own OS process: joins a federation with the SDK, trains by adding
// DELTA to every weight, and writes each update it sends to OUT_DIR/<round>.safetensors so the
// test can recompute the aggregate independently. With STALL=1 it writes OUT_DIR/training when
// its first task arrives and never finishes training. With DIE_AFTER_PAYLOAD=1 it kills itself
// (SIGKILL) once its payload chunks are acked, before the manifest: an upload left half done.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SiteClient } from '@tributary/client-sdk';
import { encodeSafetensors, tensor } from '@tributary/proto';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const delta = Number(env('DELTA'));
const numExamples = Number(env('NUM_EXAMPLES'));
const dieAfterPayload = process.env.DIE_AFTER_PAYLOAD === '1'
  ? { logger: { info() {}, warn() {}, debug: (_, msg) => msg === 'update payload published' && process.kill(process.pid, 'SIGKILL') } }
  : {};
const client = await SiteClient.connect({ coordinator: env('COORDINATOR'), nats: env('NATS'), key: env('KEY_FILE'), ...dieAfterPayload });
const controller = new AbortController();
process.on('SIGTERM', () => controller.abort());
const summary = await client.participate(
  env('FEDERATION'),
  async (task) => {
    if (process.env.STALL === '1') {
      // A site that dies in training: say so, then never finish (the test kills it).
      writeFileSync(join(env('OUT_DIR'), 'training'), String(task.round));
      await new Promise(() => undefined);
    }
    const weights = {};
    for (const [name, t] of Object.entries(task.model)) {
      const data = Float32Array.from(t.data, (v) => v + delta);
      weights[name] = tensor(t.dtype, [...t.shape], data);
    }
    writeFileSync(join(env('OUT_DIR'), `${task.round}.safetensors`), encodeSafetensors(weights));
    task.log({ loss: 1 / task.round }, task.round);
    return { weights, numExamples, metrics: { loss: 1 / task.round } };
  },
  { signal: controller.signal, maxTasks: Number(env('MAX_TASKS')) },
);
process.stdout.write(JSON.stringify(summary) + '\n');
await client.close();
