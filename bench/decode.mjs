// Decoding hostile payloads without holding the event loop: the coordinator's staged-payload
// inspection (header bounds, spec, finite values, norm) and the initial model's header parse, on
// the largest inputs each bound still lets through and on bombs it must refuse. The figure is the
// longest the event loop was held during each inspection (perf_hooks' event loop delay, 1 ms
// resolution), against the target of "tens of milliseconds" (50 ms).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { MAX_SAFETENSORS_TENSORS, encodeSafetensors, parseSafetensorsHeaderAsync, safetensorsHeaderLength, tensor } from '@tributary/proto';
import { inspectStagedPayload } from '../coordinator/dist/updates/foldable-update.js';
import { HEADER_BYTES_INITIAL_MODEL } from '../coordinator/dist/updates/staged-bytes.js';
import { options, report, round, table } from './stack.mjs';

const TARGET_MS = 50;

/** A safetensors file of `count` zero-size tensors whose names pad the header to about `headerBytes`. */
function emptyTensors(count, headerBytes) {
  const pad = Math.max(1, Math.floor(headerBytes / count) - 60);
  const entries = [];
  for (let i = 0; i < count; i++) entries.push(`"${i.toString(36).padStart(pad, '_')}":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}`);
  const json = `{${entries.join(',')}}`;
  const length = Math.ceil(json.length / 8) * 8;
  const out = Buffer.alloc(8 + length, 0x20);
  out.writeBigUInt64LE(BigInt(length), 0);
  out.write(json, 8, 'latin1');
  return out;
}

/** Runs `fn` (async) and returns its outcome and the longest event-loop stall during it, in ms. */
async function stall(fn) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  // Let the sampling timer start before the work, so a step that holds the loop at once counts.
  await new Promise((resolve) => setTimeout(resolve, 20));
  const started = performance.now();
  const outcome = await fn();
  const ms = performance.now() - started;
  // A step that held the loop to the end is recorded when the sampling timer next runs.
  await new Promise((resolve) => setTimeout(resolve, 20));
  h.disable();
  return { outcome, stallMs: h.max / 1e6, ms };
}

export async function run(args, { quick = false } = {}) {
  const o = options(args, { mib: quick ? 16 : 256, tensors: quick ? 1000 : 10_000 });
  const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-decode-'));
  const rows = [];
  // The same figure over an idle second: what other load on the machine alone costs.
  const idle = (await stall(() => new Promise((resolve) => setTimeout(resolve, 1000)))).stallMs;
  const record = (input, bytes, outcome, ms, stallMs) => {
    rows.push({ input, MiB: (bytes / 2 ** 20).toFixed(1), outcome, 'inspect ms': ms.toFixed(0), 'longest stall ms': stallMs.toFixed(1), 'idle stall ms': idle.toFixed(1) });
    report('decode', { input, bytes, outcome, ms: round(ms, 1), stallMs: round(stallMs, 1), idleStallMs: round(idle, 1) }, { ratio: stallMs / TARGET_MS, target: `stall <= ${TARGET_MS} ms`, met: stallMs <= TARGET_MS });
  };
  const measure = async (name, bytes, policy, expect) => {
    const path = join(dir, name);
    await writeFile(path, bytes);
    const { outcome, stallMs, ms } = await stall(() => inspectStagedPayload(path, bytes.length, 'tensors', policy));
    const reason = outcome.ok ? 'accepted' : outcome.refusal.reason;
    if (reason !== expect) throw new Error(`${name}: expected ${expect}, got ${reason} (${outcome.ok ? '' : outcome.refusal.message})`);
    record(name, bytes.length, reason, ms, stallMs);
    await rm(path);
  };
  try {
    const spec = (weights) => Object.entries(weights).map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape] }));
    const policyOf = (weights, extra = {}) => ({ modelSpec: spec(weights), globalModel: {}, normBound: 0, normMode: 'refuse', heterogeneous: false, ...extra });

    // Many tensors, as a spec allows: the header is as large as the bound for that spec.
    const many = {};
    for (let i = 0; i < o.tensors; i++) many[`layer.${i}.weight`] = tensor('F32', [64], new Float32Array(64).fill(0.5));
    await measure(`${o.tensors} tensors`, encodeSafetensors(many), policyOf(many), 'accepted');

    // One large tensor: every value read and checked finite, in slices.
    const values = new Float32Array((o.mib * 2 ** 20) / 4).map((_, i) => Math.sin(i));
    const big = { w: tensor('F32', [values.length], values) };
    await measure(`${o.mib} MiB of values`, encodeSafetensors(big), policyOf(big), 'accepted');
    values[values.length - 1] = Number.NaN;
    await measure(`${o.mib} MiB, NaN last`, encodeSafetensors(big), policyOf(big), 'NON_FINITE');

    // With a norm bound: the distance from the global model is summed slice by slice.
    values[values.length - 1] = 0;
    const globalModel = { w: tensor('F32', [values.length], new Float32Array(values.length)) };
    await measure(`${o.mib} MiB, norm bound`, encodeSafetensors(big), policyOf(big, { globalModel, normBound: 1, normMode: 'refuse' }), 'NORM_EXCEEDED');

    // Members of a round without a spec (ensembles): the largest header allowed, and bombs.
    const unspecified = { modelSpec: [], globalModel: {}, normBound: 0, normMode: 'refuse', heterogeneous: true };
    await measure('member: 1 MiB header', emptyTensors(8_000, 2 ** 20 - 4096), unspecified, 'accepted');
    await measure('member bomb: 280k tensors', emptyTensors(280_000, 15 * 2 ** 20), unspecified, 'MALFORMED_PAYLOAD');
    await measure('member bomb: 1.6M tensors', emptyTensors(1_600_000, 95 * 2 ** 20), unspecified, 'MALFORMED_PAYLOAD');
    // A header padded far beyond what the spec's entries need.
    const padded = encodeSafetensors(many);
    const declared = Number(padded.readBigUInt64LE(0));
    const fat = Buffer.alloc(padded.length + 8 * 2 ** 20, 0x20);
    fat.writeBigUInt64LE(BigInt(declared + 8 * 2 ** 20), 0);
    padded.copy(fat, 8, 8, 8 + declared);
    padded.copy(fat, 8 + declared + 8 * 2 ** 20, 8 + declared);
    await measure('spec member, header padded 8 MiB', fat, policyOf(many), 'MALFORMED_PAYLOAD');

    // An initial model's header is parsed with the same bounds (federations/catalog.ts).
    const header = emptyTensors(MAX_SAFETENSORS_TENSORS, HEADER_BYTES_INITIAL_MODEL - 1024);
    const { stallMs, ms } = await stall(async () => {
      const length = safetensorsHeaderLength(header.subarray(0, 8), header.length, HEADER_BYTES_INITIAL_MODEL);
      return parseSafetensorsHeaderAsync(header.subarray(8, 8 + length), header.length - 8 - length, { maxTensors: MAX_SAFETENSORS_TENSORS });
    });
    record('initial model: max header', header.length, 'parsed', ms, stallMs);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  table(rows);
}
