// The events case's read probe, run in a worker thread: ListFederations back to back (5 ms
// apart) until told to stop or `limit` calls are made, then the latencies (ms) go back to the
// parent. Its own event loop keeps the bench process's sites (their training copy, encode, hash
// and publish of 40 MB updates) out of the figures: they measure the coordinator alone.
import { parentPort, workerData } from 'node:worker_threads';
import { AdminClient } from '@tributary/coordinator';
import { readKeyFile } from '@tributary/proto';

const reader = new AdminClient({ address: workerData.address, key: await readKeyFile(workerData.keyFile) });
let stopped = false;
parentPort.on('message', (m) => {
  if (m === 'stop') stopped = true;
});
const limit = workerData.limit ?? Infinity;
const ms = [];
try {
  while (!stopped && ms.length < limit) {
    const t = performance.now();
    await reader.listFederations();
    ms.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 5));
  }
} finally {
  reader.close();
}
parentPort.postMessage(ms);
parentPort.close();
