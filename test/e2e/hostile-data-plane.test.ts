import { performance } from 'node:perf_hooks';
import {
  DEFAULT_CHUNK_SIZE,
  RpcClient,
  decodeSafetensors,
  encodeEnvelope,
  encodeManifest,
  encodeMetricBatch,
  encodeSafetensors,
  generateSigningKey,
  newUpdateId,
  sha256Hex,
  signEnvelope,
  subjects,
  tensor,
  tensorSpecsOf,
  type GetUpdateStatusRequest,
  type SigningKey,
  type TensorMap,
  type UpdateManifest,
  type UpdateStatus__Output,
} from '@tributary/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from '../helpers/numeric.js';
import { prng } from '../helpers/random.js';
import { prepareUpload, type RawSite, type RawUpdateOptions } from '../helpers/raw-site.js';
import { addSite, eventually, startStack, type Stack } from '../helpers/stack.js';
import { referenceFedAvg, toyModel, toyTrain } from '../helpers/training.js';

const MiB = 1024 * 1024;
/** How much the test process (coordinator included) may grow over the suite. */
const RSS_BOUND = 512 * MiB;
const FUZZ_MESSAGES = 200;
const FUZZ_SEED = 0x7a1b;

/**
 * One hostile input on the data plane and what must come of it: a verdict with a reason (an
 * attributable update), a refusal counted under a reason and answered by no verdict (nothing in
 * it can be trusted), or a refused metric batch counted under a reason.
 */
interface HostileCase {
  name: string;
  expected: string;
  run: () => Promise<string>;
}

/** Counter values by reason, parsed from one Prometheus counter. */
async function countsOf(stack: Stack, counter: string): Promise<Map<string, number>> {
  const text = await stack.coordinator.metrics.registry.getSingleMetricAsString(counter);
  const counts = new Map<string, number>();
  for (const m of text.matchAll(/reason="([A-Z_]+)"} (\d+)/g)) counts.set(m[1] as string, Number(m[2]));
  return counts;
}

/** The reasons whose counts grew from `before` to `after`, joined with '+', or undefined when none did. */
function grown(before: Map<string, number>, after: Map<string, number>): string | undefined {
  const reasons = [...after].filter(([reason, n]) => n > (before.get(reason) ?? 0)).map(([reason]) => reason);
  return reasons.length === 0 ? undefined : reasons.sort().join('+');
}

const total = (counts: Map<string, number>): number => [...counts.values()].reduce((s, n) => s + n, 0);

/** `model` with one value of its tensor `w` replaced: a NaN, an infinity, a subnormal. */
function withValue(model: TensorMap, index: number, value: number): TensorMap {
  const w = model['w'];
  if (!w) throw new Error('toy model changed');
  const data = new Float32Array(w.data as Float32Array);
  data[index] = value;
  return { ...model, w: tensor('F32', [...w.shape], data) };
}

/** A safetensors file by hand, header text as given: what no encoder of ours would write. */
function handMadeSafetensors(header: string, data: Uint8Array): Uint8Array {
  const padded = header.padEnd(Math.ceil(header.length / 8) * 8, ' ');
  const out = new Uint8Array(8 + padded.length + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded.length), true);
  out.set(new TextEncoder().encode(padded), 8);
  out.set(data, 8 + padded.length);
  return out;
}

describe('a hostile site on the data plane', () => {
  let stack: Stack;
  let raw: RawSite;
  let statuses: RpcClient;
  let runId = '';
  let keys: Record<string, SigningKey> = {};
  const federation = 'hostile';
  const base = toyModel();
  const results: Array<{ name: string; asExpected: boolean; crashed: boolean; stateChanged: boolean; latencyMs: number }> = [];
  let rssBefore = 0;

  beforeAll(async () => {
    rssBefore = process.memoryUsage().rss;
    stack = await startStack({ maxUpdateSize: '1MiB' });
    raw = await stack.rawSite();
    statuses = new RpcClient({ address: stack.coordinator.address, key: stack.adminKey, service: 'SiteService' });
    await stack.admin.createFederation({
      name: federation,
      settings: { rounds: 1, minSites: 2, roundDeadlineSeconds: 600, maxExamples: 1000 },
      initialModel: encodeSafetensors(base),
    });
    await stack.admin.createFederation({ name: 'subnormal', settings: { rounds: 1, minSites: 1, roundDeadlineSeconds: 600 }, initialModel: encodeSafetensors(base) });
    keys = {
      'honest-1': await addSite(stack, 'honest-1', [federation]),
      'honest-2': await addSite(stack, 'honest-2', [federation]),
      revoked: await addSite(stack, 'revoked', [federation]),
      tiny: await addSite(stack, 'tiny', ['subnormal']),
    };
    await stack.admin.revokeSite('revoked');
    runId = (await stack.admin.startRun(federation)).id;
    expect((await stack.admin.getRound(runId, 1)).selectedSites.sort()).toEqual(['honest-1', 'honest-2']);
  });
  afterAll(async () => {
    const rssAfter = process.memoryUsage().rss;
    const refused = results.filter((r) => r.asExpected).length;
    const crashes = results.filter((r) => r.crashed).length;
    const changes = results.filter((r) => r.stateChanged).length;
    const latencies = results.map((r) => r.latencyMs).sort((x, y) => x - y);
    if (latencies.length > 0) console.log(`ListFederations after a case: median ${latencies[Math.floor(latencies.length / 2)]?.toFixed(1)} ms, max ${latencies.at(-1)?.toFixed(1)} ms`);
    console.log(`rss before ${(rssBefore / MiB).toFixed(1)} MiB, after ${(rssAfter / MiB).toFixed(1)} MiB`);
    console.log(['cases | refused as expected | crashes | state changes', `${results.length} | ${refused} | ${crashes} | ${changes}`].join('\n'));
    statuses?.close();
    await raw?.close();
    await stack?.stop();
  });

  const honest = (site: string): TensorMap => toyTrain(base, site, 1);
  const options = (site: string, extra: Partial<RawUpdateOptions> = {}): RawUpdateOptions => ({
    key: keys[site] as SigningKey,
    site,
    federation,
    runId,
    round: 1,
    weights: honest(site),
    ...extra,
  });
  /** An attributable update: its verdict's reason ('ACCEPTED' when accepted). */
  const verdictOf = async (site: string, extra: Partial<RawUpdateOptions> = {}): Promise<string> => {
    const status = await raw.send(options(site, extra));
    return status.state === 'UPDATE_STATE_ACCEPTED' ? 'ACCEPTED' : status.reason;
  };
  const updateSubject = (site = 'honest-1') => subjects.update(federation, runId, 1, site);

  /**
   * Publishes what no site can be held to; answers the reason it was counted under, after making
   * sure no verdict went out for it: the coordinator publishes every verdict on one connection, in
   * order, so once a later attributable update's verdict arrives, one about this would have too.
   */
  async function countedWithoutVerdict(publish: () => Promise<string | undefined>): Promise<string> {
    const before = await countsOf(stack, 'tributary_updates_refused_total');
    return raw.hearingVerdicts(federation, async (heard) => {
      const updateId = await publish();
      const reason = await eventually(async () => grown(before, await countsOf(stack, 'tributary_updates_refused_total')));
      const later = await raw.send(options('honest-1', { round: 2 }));
      expect(later.reason).toBe('WRONG_ROUND');
      expect(heard).toEqual([later.updateId]);
      if (updateId !== undefined) {
        const status = await statuses.unary<GetUpdateStatusRequest, UpdateStatus__Output>('GetUpdateStatus', { federation, updateId });
        expect(status.state).toBe('UPDATE_STATE_PENDING');
      }
      return reason;
    });
  }

  /** Publishes a metric batch (or bytes) and answers the reason it was refused under. */
  async function metricRefusal(publish: () => Promise<void>): Promise<string> {
    const before = await countsOf(stack, 'tributary_metric_batches_refused_total');
    await publish();
    return eventually(async () => grown(before, await countsOf(stack, 'tributary_metric_batches_refused_total')));
  }

  /** A signed envelope of kind update over `body`, published on honest-1's manifest subject. */
  const publishSigned = async (body: Uint8Array, key = keys['honest-1'] as SigningKey): Promise<undefined> => {
    await raw.sendGarbage(updateSubject(), encodeEnvelope(signEnvelope('update', body, key)));
    return undefined;
  };
  /** An honest manifest of honest-1, encoded. */
  const honestManifest = (extra: Partial<UpdateManifest> = {}): Uint8Array => {
    const payload = encodeSafetensors(honest('honest-1'));
    return encodeManifest({
      federation,
      runId,
      round: 1,
      site: 'honest-1',
      updateId: newUpdateId(),
      createdAtMs: Date.now(),
      numExamples: 10,
      metrics: {},
      payloadSize: payload.byteLength,
      payloadSha256: sha256Hex(payload),
      chunkCount: 1,
      chunkSize: DEFAULT_CHUNK_SIZE,
      tensors: tensorSpecsOf(honest('honest-1')),
      flavor: 'tensors',
      baseVersion: 0,
      ...extra,
    });
  };
  const random = prng(FUZZ_SEED ^ 0x55);
  const randomBytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));

  const w = base['w'];
  const b = base['b'];
  if (!w || !b) throw new Error('toy model changed');

  let replayable: { subject: string; bytes: Uint8Array } | undefined;
  let subnormalRun = '';

  const cases: HostileCase[] = [
    {
      name: 'random bytes on the update subject are counted as a malformed envelope',
      expected: 'MALFORMED_ENVELOPE',
      run: () => countedWithoutVerdict(async () => (await raw.sendGarbage(updateSubject(), randomBytes(512)), undefined)),
    },
    {
      name: 'random bytes as the payload of a signed manifest are a digest mismatch',
      expected: 'DIGEST_MISMATCH',
      run: () => verdictOf('honest-1', { payloadOverride: randomBytes(encodeSafetensors(honest('honest-1')).byteLength) }),
    },
    {
      name: 'random bytes on the metrics subject are counted as a malformed envelope',
      expected: 'MALFORMED_ENVELOPE',
      run: () => metricRefusal(() => raw.sendGarbage(subjects.metrics(federation, runId, 'honest-1'), randomBytes(512))),
    },
    {
      name: 'a truncated envelope is counted as malformed',
      expected: 'MALFORMED_ENVELOPE',
      run: () =>
        countedWithoutVerdict(async () => {
          const bytes = prepareUpload(options('honest-1')).manifest.bytes;
          await raw.sendGarbage(updateSubject(), bytes.subarray(0, Math.floor(bytes.byteLength / 2)));
          return undefined;
        }),
    },
    {
      name: 'a signed, truncated manifest is counted as malformed',
      expected: 'MALFORMED_MANIFEST',
      run: () => countedWithoutVerdict(() => publishSigned(honestManifest().subarray(0, 37))),
    },
    {
      name: 'a signed body of random bytes is counted as malformed',
      expected: 'MALFORMED_MANIFEST',
      run: () => countedWithoutVerdict(() => publishSigned(randomBytes(300))),
    },
    {
      name: 'a valid signature over a different manifest is an invalid signature',
      expected: 'SIGNATURE_INVALID',
      run: () =>
        countedWithoutVerdict(async () => {
          const key = keys['honest-1'] as SigningKey;
          const shown = signEnvelope('update', honestManifest(), key);
          const other = signEnvelope('update', honestManifest({ numExamples: 999 }), key);
          await raw.sendGarbage(updateSubject(), encodeEnvelope({ ...shown, signature: other.signature }));
          return undefined;
        }),
    },
    {
      name: 'a payload changed after signing is a digest mismatch',
      expected: 'DIGEST_MISMATCH',
      run: () => {
        const other = encodeSafetensors(toyTrain(base, 'honest-2', 9));
        expect(sha256Hex(other)).not.toBe(sha256Hex(encodeSafetensors(honest('honest-2'))));
        return verdictOf('honest-2', { payloadOverride: other });
      },
    },
    {
      name: 'an unknown key is counted and answered by no verdict',
      expected: 'UNKNOWN_KEY',
      run: () => countedWithoutVerdict(() => raw.publish(options('honest-1', { key: generateSigningKey('stranger') }))),
    },
    {
      name: 'a revoked key is counted and answered by no verdict',
      expected: 'KEY_REVOKED',
      run: () => countedWithoutVerdict(() => raw.publish(options('revoked', { subject: updateSubject('revoked') }))),
    },
    {
      name: 'a unicode site name in the manifest is a site mismatch',
      expected: 'SITE_MISMATCH',
      run: () => countedWithoutVerdict(() => publishSigned(honestManifest({ site: 'hónest-1\u202e' }))),
    },
    {
      name: 'a NUL in the site name is a site mismatch',
      expected: 'SITE_MISMATCH',
      run: () => countedWithoutVerdict(() => publishSigned(honestManifest({ site: 'honest-1\u0000' }))),
    },
    {
      name: 'a path-like site name is a site mismatch',
      expected: 'SITE_MISMATCH',
      run: () => countedWithoutVerdict(() => publishSigned(honestManifest({ site: '../../honest-1' }))),
    },
    {
      name: 'a path-like federation name is a subject mismatch',
      expected: 'SUBJECT_MISMATCH',
      run: () => countedWithoutVerdict(() => publishSigned(honestManifest({ federation: '../hostile' }))),
    },
    {
      name: 'a federation name with NUL and unicode is a subject mismatch',
      expected: 'SUBJECT_MISMATCH',
      run: () => countedWithoutVerdict(() => publishSigned(honestManifest({ federation: 'hostile\u0000ü' }))),
    },
    {
      name: 'a negative round (2^32-1 on the wire) is a subject mismatch',
      expected: 'SUBJECT_MISMATCH',
      run: () => countedWithoutVerdict(() => publishSigned(honestManifest({ round: -1 }))),
    },
    {
      name: 'a huge round on its own subject is the wrong round',
      expected: 'WRONG_ROUND',
      run: () => verdictOf('honest-1', { round: 4_000_000_000 }),
    },
    {
      name: 'a negative payload size is a malformed manifest',
      expected: 'MALFORMED_MANIFEST',
      run: () => verdictOf('honest-1', { tamper: { payloadSize: -1 } }),
    },
    {
      name: 'a payload size of 2^53 is a malformed manifest',
      expected: 'MALFORMED_MANIFEST',
      run: () => verdictOf('honest-1', { tamper: { payloadSize: 2 ** 53 } }),
    },
    {
      name: 'a payload of 1 TiB is refused before a chunk is read',
      expected: 'PAYLOAD_TOO_LARGE',
      run: () => verdictOf('honest-1', { tamper: { payloadSize: 2 ** 40, chunkSize: DEFAULT_CHUNK_SIZE, chunkCount: Math.ceil(2 ** 40 / DEFAULT_CHUNK_SIZE) } }),
    },
    {
      name: 'a negative chunk count is a malformed manifest',
      expected: 'MALFORMED_MANIFEST',
      run: () => verdictOf('honest-1', { tamper: { chunkCount: -1 } }),
    },
    {
      name: 'a huge chunk count is a malformed manifest',
      expected: 'MALFORMED_MANIFEST',
      run: () => verdictOf('honest-1', { tamper: { chunkCount: 4_000_000_000 } }),
    },
    {
      name: 'a zero chunk size is a malformed manifest',
      expected: 'MALFORMED_MANIFEST',
      run: () => verdictOf('honest-1', { tamper: { chunkSize: 0 } }),
    },
    { name: 'NaN in a tensor is non-finite', expected: 'NON_FINITE', run: () => verdictOf('honest-1', { weights: withValue(honest('honest-1'), 1, NaN) }) },
    { name: '+Infinity in a tensor is non-finite', expected: 'NON_FINITE', run: () => verdictOf('honest-1', { weights: withValue(honest('honest-1'), 2, Infinity) }) },
    { name: '-Infinity in a tensor is non-finite', expected: 'NON_FINITE', run: () => verdictOf('honest-2', { weights: withValue(honest('honest-2'), 0, -Infinity) }) },
    {
      name: 'a wrong dtype is a schema mismatch',
      expected: 'SCHEMA_MISMATCH',
      run: () => verdictOf('honest-1', { weights: { w: tensor('F64', [2, 3], Float64Array.from(w.data as Float32Array)), b } }),
    },
    {
      name: 'a wrong shape is a schema mismatch',
      expected: 'SCHEMA_MISMATCH',
      run: () => verdictOf('honest-1', { weights: { w: tensor('F32', [3, 2], new Float32Array(w.data as Float32Array)), b } }),
    },
    {
      name: 'a manifest naming a tensor twice is a schema mismatch',
      expected: 'SCHEMA_MISMATCH',
      run: () => verdictOf('honest-1', { tamper: { tensors: [...tensorSpecsOf(honest('honest-1')), { name: 'w', dtype: 'F32', shape: [2, 3] }] } }),
    },
    {
      name: 'a payload whose header names a tensor twice is a schema mismatch',
      expected: 'SCHEMA_MISMATCH',
      run: () => {
        const spec = (offsets: [number, number], shape: number[]) => `{"dtype":"F32","shape":${JSON.stringify(shape)},"data_offsets":${JSON.stringify(offsets)}}`;
        const header = `{"w":${spec([0, 24], [2, 3])},"b":${spec([24, 36], [3])},"w":${spec([36, 60], [2, 3])}}`;
        const payload = handMadeSafetensors(header, new Uint8Array(new Float32Array(15).fill(0.25).buffer));
        return verdictOf('honest-1', { payloadOverride: payload, tamper: { payloadSize: payload.byteLength, payloadSha256: sha256Hex(payload), chunkCount: 1 } });
      },
    },
    {
      name: 'num_examples over max_examples is too many examples',
      expected: 'TOO_MANY_EXAMPLES',
      run: () => verdictOf('honest-2', { numExamples: 1001 }),
    },
    {
      name: 'a metric batch of 10 001 points is refused with its reason',
      expected: 'INVALID_ARGUMENT',
      run: () =>
        metricRefusal(async () => {
          const key = keys['honest-1'] as SigningKey;
          const points = Array.from({ length: 10_001 }, (_, i) => ({ key: 'loss', value: 1 / (i + 1), timestampMs: Date.now(), step: i }));
          const batchId = newUpdateId();
          const body = encodeMetricBatch({ federation, runId, round: 1, site: 'honest-1', batchId, createdAtMs: Date.now(), points });
          await raw.nc.jetstream().publish(subjects.metrics(federation, runId, 'honest-1'), encodeEnvelope(signEnvelope('metrics', body, key)), { msgID: batchId });
        }),
    },
    {
      name: 'subnormal values are accepted (in a federation of their own)',
      expected: 'ACCEPTED',
      run: async () => {
        subnormalRun = (await stack.admin.startRun('subnormal')).id;
        const weights = withValue(withValue(toyTrain(base, 'tiny', 1), 0, 1e-40), 5, -1.4e-45);
        const status = await raw.send({ key: keys['tiny'] as SigningKey, site: 'tiny', federation: 'subnormal', runId: subnormalRun, round: 1, weights });
        replayable = raw.lastEnvelope;
        expect((await stack.admin.waitForRun(subnormalRun)).status).toBe('RUN_STATUS_FINISHED');
        // One update, all the weight: the committed model keeps the subnormals as sent.
        const committed = decodeSafetensors((await stack.admin.downloadModel('subnormal', 2)).bytes).tensors['w']?.data as Float32Array;
        expect([committed[0], committed[5]]).toEqual([Math.fround(1e-40), Math.fround(-1.4e-45)]);
        return status.state === 'UPDATE_STATE_ACCEPTED' ? 'ACCEPTED' : status.reason;
      },
    },
    {
      name: 'a replayed envelope is counted and records nothing',
      expected: 'REPLAYED_UPDATE',
      run: async () => {
        if (!replayable) throw new Error('nothing to replay');
        const before = await countsOf(stack, 'tributary_updates_refused_total');
        await raw.sendGarbage(replayable.subject, replayable.bytes);
        const reason = await eventually(async () => grown(before, await countsOf(stack, 'tributary_updates_refused_total')));
        const round = await stack.admin.getRound(subnormalRun, 1);
        expect(round.accepted).toHaveLength(1);
        expect(round.refused).toHaveLength(0);
        return reason;
      },
    },
  ];

  /** True when the main run's round 1 holds no accepted update and the run still runs. */
  async function untouched(): Promise<boolean> {
    const round = await stack.admin.getRound(runId, 1);
    const run = await stack.admin.getRun(runId);
    return round.accepted.length === 0 && run.status === 'RUN_STATUS_RUNNING';
  }

  for (const c of cases) {
    it(c.name, async () => {
      const observed = await c.run().catch((err: unknown) => `threw: ${String(err)}`);
      const started = performance.now();
      const alive = await stack.admin.listFederations().then(
        () => true,
        () => false,
      );
      const latencyMs = performance.now() - started;
      const stateChanged = !(await untouched());
      console.log(`${c.name}: ${observed}; ListFederations answered in ${latencyMs.toFixed(1)} ms`);
      results.push({ name: c.name, asExpected: observed === c.expected, crashed: !alive, stateChanged, latencyMs });
      expect(observed).toBe(c.expected);
      expect(alive).toBe(true);
      expect(stateChanged).toBe(false);
    });
  }

  it(`refuses all of ${FUZZ_MESSAGES} mutations of a valid envelope and keeps answering`, async () => {
    const random = prng(FUZZ_SEED);
    const upload = prepareUpload(options('honest-1'));
    // The payload is there, so a mutation that passed every check would be accepted.
    const js = raw.nc.jetstream();
    for (const chunk of upload.chunks) await js.publish(chunk.subject, chunk.data, { msgID: chunk.msgID, headers: chunk.headers });
    const valid = upload.manifest.bytes;
    const other = prepareUpload(options('honest-2')).manifest.bytes;
    const mutate = (): Uint8Array => {
      const bytes = Uint8Array.from(valid);
      switch (Math.floor(random() * 3)) {
        case 0: {
          const flips = 1 + Math.floor(random() * 4);
          for (let i = 0; i < flips; i++) {
            const bit = Math.floor(random() * bytes.byteLength * 8);
            bytes[bit >> 3] = (bytes[bit >> 3] as number) ^ (1 << (bit & 7));
          }
          return bytes;
        }
        case 1:
          return bytes.subarray(0, Math.floor(random() * bytes.byteLength));
        default: {
          const cut = Math.floor(random() * bytes.byteLength);
          const from = Math.floor(random() * other.byteLength);
          return Uint8Array.from([...bytes.subarray(0, cut), ...other.subarray(from)]);
        }
      }
    };
    const counted = await countsOf(stack, 'tributary_updates_refused_total');
    const before = total(counted);
    let sent = 0;
    while (sent < FUZZ_MESSAGES) {
      const bytes = mutate();
      if (Buffer.from(bytes).equals(Buffer.from(valid))) continue;
      await raw.sendGarbage(upload.manifest.subject, bytes);
      sent++;
    }
    await eventually(async () => total(await countsOf(stack, 'tributary_updates_refused_total')) >= before + FUZZ_MESSAGES, 120_000);
    const started = performance.now();
    await stack.admin.listFederations();
    const after = await countsOf(stack, 'tributary_updates_refused_total');
    const byReason = [...after].map(([reason, n]) => [reason, n - (counted.get(reason) ?? 0)] as const).filter(([, n]) => n > 0);
    console.log(`fuzz: ${FUZZ_MESSAGES} mutated envelopes refused (${byReason.map(([r, n]) => `${r} ${n}`).join(', ')}); ListFederations answered in ${(performance.now() - started).toFixed(1)} ms`);
    const status = await statuses.unary<GetUpdateStatusRequest, UpdateStatus__Output>('GetUpdateStatus', { federation, updateId: upload.updateId });
    expect(status.state).not.toBe('UPDATE_STATE_ACCEPTED');
    expect(await untouched()).toBe(true);
  });

  it('commits exactly the FedAvg of the honest updates, as if the hostile traffic never came', async () => {
    expect(await verdictOf('honest-1')).toBe('ACCEPTED');
    expect(await verdictOf('honest-2', { numExamples: 30 })).toBe('ACCEPTED');
    expect((await stack.admin.waitForRun(runId)).status).toBe('RUN_STATUS_FINISHED');
    const expected = referenceFedAvg([
      { weights: honest('honest-1'), numExamples: 10 },
      { weights: honest('honest-2'), numExamples: 30 },
    ]);
    const model = decodeSafetensors((await stack.admin.downloadModel(federation, 2)).bytes).tensors;
    expect(Object.keys(model).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, values] of Object.entries(expected)) expectClose(model[name]?.data as Float32Array, Float32Array.from(values), 0);
    expect((await stack.admin.getRound(runId, 1)).accepted.map((a) => a.site).sort()).toEqual(['honest-1', 'honest-2']);
  });

  it('met every case without a crash or a change of state, within the memory bound', () => {
    const growth = process.memoryUsage().rss - rssBefore;
    console.log(`rss grew by ${(growth / MiB).toFixed(1)} MiB over the suite (bound ${RSS_BOUND / MiB} MiB)`);
    expect(results).toHaveLength(cases.length);
    expect(results.filter((r) => r.crashed)).toEqual([]);
    expect(results.filter((r) => r.stateChanged)).toEqual([]);
    expect(growth).toBeLessThan(RSS_BOUND);
  });
});
