// Metric streaming: N sites publish signed MetricBatch envelopes on NATS as fast as the
// coordinator stores them (each keeps at most --window batches not yet stored), for --seconds.
// Prints the points per second committed to the level tracking store and the ingest lag
// (store commit minus the point's timestamp, from WatchMetrics' stored_at_ms); then, after
// stopping the coordinator, opens its level tracking store and counts every point it holds, page
// by page (not the thinned history a client sees), to check nothing was lost.
//
// The sites sign with node:crypto's Ed25519 (the same signatures tweetnacl makes, about 50 times
// faster), so that the load generator, which shares the two cores with the coordinator and
// nats-server, is not what the figures measure.
import { createPrivateKey, sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AdminClient } from '@tributary/coordinator';
import { encodeEnvelope, encodeMetricBatch, encodeSafetensors, envelopeSigningBytes, generateSigningKey, newUpdateId, subjects, tensor } from '@tributary/proto';
import { connect } from 'nats';
import { LevelTrackingStore } from '../coordinator/dist/tracking/level-store.js';
import { options, report, startDevStack, table } from './stack.mjs';

const FEDERATION = 'bench';
/** Seconds of streaming before the measured window, not counted. */
const WARMUP_SECONDS = 1;

export async function run(args, { quick = false } = {}) {
  const o = options(args, { sites: quick ? 4 : 10, seconds: quick ? 3 : 10, batch: 500, keys: 10, window: 4 });
  if (o.batch % o.keys !== 0) throw new Error(`--batch (${o.batch}) must be a multiple of --keys (${o.keys})`);
  console.log(
    `Metric streaming: ${o.sites} sites, batches of ${o.batch} points (${o.keys} keys x ${o.batch / o.keys} steps), ` +
      `at most ${o.window} batch${o.window === 1 ? '' : 'es'} a site not yet stored, ${o.seconds} s measured after ${WARMUP_SECONDS} s warm-up`,
  );
  const stack = await startDevStack();
  const admin = new AdminClient({ address: stack.coordinator, key: stack.adminKey });
  const sites = [];
  const watching = new AbortController();
  try {
    await admin.createFederation({
      name: FEDERATION,
      settings: { rounds: 1, minSites: o.sites, roundDeadlineSeconds: 3600 },
      initialModel: encodeSafetensors({ w: tensor('F32', [4], new Float32Array(4)) }),
    });
    for (let i = 0; i < o.sites; i++) {
      const key = generateSigningKey(`site-${i}`);
      await admin.addSite({ name: key.name, publicKey: key.publicKey, federations: [FEDERATION] });
      sites.push(await Site.connect(stack.nats, key, o));
    }
    const runId = (await admin.startRun(FEDERATION)).id;
    for (const site of sites) site.runId = runId;

    const window = { open: false, points: 0, lags: [] };
    const bySite = new Map(sites.map((s) => [s.key.name, s]));
    const watch = (async () => {
      try {
        for await (const event of admin.watchMetrics(FEDERATION, { runId, signal: watching.signal })) {
          bySite.get(event.site)?.stored(event.points.length);
          if (!window.open) continue;
          window.points += event.points.length;
          for (const p of event.points) window.lags.push(event.storedAtMs - p.timestampMs);
        }
      } catch (err) {
        if (!watching.signal.aborted) throw err;
      }
    })();
    // The watch must be in place before the first point is stored.
    await new Promise((r) => setTimeout(r, 300));

    const streaming = sites.map((s) => s.stream());
    await new Promise((r) => setTimeout(r, WARMUP_SECONDS * 1000));
    const before = await stack.memory();
    const cpuBefore = { coordinator: await cpuSeconds(stack.pid), bench: process.cpuUsage() };
    window.open = true;
    const started = performance.now();
    let peak = before.peakMiB;
    const sampler = setInterval(() => stack.memory().then((m) => (peak = Math.max(peak, m.peakMiB))).catch(() => {}), 250);
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    window.open = false;
    const elapsed = (performance.now() - started) / 1000;
    const coordinatorCores = ((await cpuSeconds(stack.pid)) - cpuBefore.coordinator) / elapsed;
    const benchCpu = process.cpuUsage(cpuBefore.bench);
    const benchCores = (benchCpu.user + benchCpu.system) / 1e6 / elapsed;
    clearInterval(sampler);
    peak = Math.max(peak, (await stack.memory()).peakMiB);
    for (const s of sites) s.stop();
    await Promise.all(streaming);
    await Promise.all(sites.map((s) => s.drained()));
    watching.abort();
    await watch;

    const published = sites.reduce((n, s) => n + s.published, 0);
    const peakAfter = (await stack.memory()).peakMiB;
    for (const s of sites) await s.close().catch(() => {});
    sites.length = 0;
    admin.close();
    await stack.stop({ keep: true });
    const stored = await countStoredPoints(stack.trackingPath);
    const lags = Float64Array.from(window.lags).sort();
    table([
      {
        'points/s stored': Math.round(window.points / elapsed).toLocaleString('en'),
        'lag p50 ms': percentile(lags, 0.5).toFixed(0),
        'lag p99 ms': percentile(lags, 0.99).toFixed(0),
        'lag max ms': (lags.at(-1) ?? NaN).toFixed(0),
        'points published': published.toLocaleString('en'),
        'points in the store': stored.toLocaleString('en'),
        'coordinator cores': coordinatorCores.toFixed(2),
        'sites+watch cores': benchCores.toFixed(2),
        'coordinator peak MiB': peak.toFixed(0),
        'peak after drain MiB': peakAfter.toFixed(0),
      },
    ]);
    const perSecond = window.points / elapsed;
    const p99 = percentile(lags, 0.99);
    const met = perSecond >= 100_000 && p99 <= 1000;
    console.log(`target (>= 100,000 points/s, p99 lag <= 1 s): ${met ? 'met' : 'missed'}; ${stored === published ? 'no point lost' : `${published - stored} points missing`}`);
    // The sites publish as fast as the store commits (each keeps a window of batches), so the
    // offered load is not an independent limit: the ratio is to the target rate.
    report('metrics', { sites: o.sites, pointsPerSecond: Math.round(perSecond), lagP99Ms: p99, published, stored, targetPointsPerSecond: 100_000 }, { ratio: perSecond / 100_000, target: 1, met });
    if (stored !== published) throw new Error(`${published - stored} of ${published} points missing from the tracking store`);
  } finally {
    watching.abort();
    for (const s of sites) await s.close().catch(() => {});
    admin.close();
    await stack.stop();
  }
}

/** Every site point (keys `site/<site>/m<k>`) the level store at `path` holds, over all runs. */
async function countStoredPoints(path) {
  const store = await LevelTrackingStore.open(path);
  try {
    const experiment = await store.getExperimentByName(FEDERATION);
    let count = 0;
    let runsToken;
    do {
      const page = await store.searchRuns({ experimentIds: [experiment.experimentId], maxResults: 1000, ...(runsToken ? { pageToken: runsToken } : {}) });
      for (const r of page.runs) {
        // Site points are stored as `site/<site>/<key>`; each key's latest value names the series.
        const series = Object.keys(r.data.metrics).filter((key) => /^site\/[^/]+\/m\d+$/.test(key));
        for (const key of series) {
          let token;
          do {
            const h = await store.getMetricHistory(r.info.runId, key, token ? { pageToken: token } : {});
            count += h.metrics.length;
            token = h.nextPageToken;
          } while (token);
        }
      }
      runsToken = page.nextPageToken;
    } while (runsToken);
    return count;
  } finally {
    await store.close();
  }
}

/** One site: its own NATS connection, a window of batches not yet stored, signed with node:crypto. */
class Site {
  runId = '';
  published = 0;
  #stored = 0;
  #step = 0;
  #running = true;
  #wake = () => {};

  constructor(nc, key, o) {
    this.nc = nc;
    this.js = nc.jetstream();
    this.key = key;
    this.o = o;
    // PKCS#8 wrapping of the 32-byte Ed25519 seed (tweetnacl keeps seed || public key).
    const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(key.secretKey.subarray(0, 32))]);
    this.privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  }

  static async connect(url, key, o) {
    return new Site(await connect({ servers: [url], name: key.name }), key, o);
  }

  stored(n) {
    this.#stored += n;
    this.#wake();
  }

  stop() {
    this.#running = false;
    this.#wake();
  }

  async stream() {
    const { batch, keys, window } = this.o;
    const subject = subjects.metrics(FEDERATION, this.runId, this.key.name);
    const inFlight = new Set();
    while (this.#running) {
      if (this.published - this.#stored >= window * batch) {
        await new Promise((resolve) => (this.#wake = resolve));
        continue;
      }
      const now = Date.now();
      const points = new Array(batch);
      for (let i = 0; i < batch; i++) {
        const step = this.#step + Math.floor(i / keys);
        points[i] = { key: `m${i % keys}`, value: Math.sin(step / 100) + (i % keys), timestampMs: now, step };
      }
      this.#step += batch / keys;
      const batchId = newUpdateId();
      const body = encodeMetricBatch({ federation: FEDERATION, runId: this.runId, round: 1, site: this.key.name, batchId, createdAtMs: now, points });
      const signature = sign(null, envelopeSigningBytes('metrics', body), this.privateKey);
      const data = encodeEnvelope({ kind: 'metrics', body, signature, keyId: this.key.keyId });
      this.published += batch;
      const ack = this.js.publish(subject, data, { msgID: batchId }).finally(() => inFlight.delete(ack));
      inFlight.add(ack);
    }
    await Promise.all(inFlight);
  }

  /** Resolves once every published point was stored. */
  async drained() {
    const until = Date.now() + 30_000;
    while (this.#stored < this.published && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  close() {
    return this.nc.drain();
  }
}

/** CPU time a process has used so far (user + system), in seconds. */
async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function percentile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
