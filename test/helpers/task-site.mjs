// A partner site in its own OS process that answers MAX_TASKS tasks of FEDERATION one by one,
// across runs, with nextTask and submit: it adds 0.1 to every weight and prints each verdict as
// a JSON line on stdout. The SDK's log lines go to stderr, one JSON object each.
import { SiteClient } from '@tributary/client-sdk';
import { tensor } from '@tributary/proto';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const line = (level) => (obj, msg) => process.stderr.write(`${JSON.stringify({ level, msg, ...obj })}\n`);
const client = await SiteClient.connect({
  coordinator: env('COORDINATOR'),
  nats: env('NATS'),
  key: env('KEY_FILE'),
  logger: { info: line('info'), warn: line('warn'), debug: () => undefined },
});
for (let i = 0; i < Number(env('MAX_TASKS')); i++) {
  const task = await client.nextTask(env('FEDERATION'));
  const weights = {};
  for (const [name, t] of Object.entries(task.model)) weights[name] = tensor(t.dtype, [...t.shape], Float32Array.from(t.data, (v) => v + 0.1));
  const verdict = await client.submit(task, { weights, numExamples: 10 });
  process.stdout.write(`${JSON.stringify({ runId: task.runId, round: task.round, accepted: verdict.accepted, reason: verdict.reason ?? '' })}\n`);
}
await client.close();
