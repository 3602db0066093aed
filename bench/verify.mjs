// Update verification: the manifest's Ed25519 signature (node:crypto) and decoding, plus SHA-256
// of the payload in 1 MiB chunks, as the coordinator reads it; against bare node:crypto SHA-256
// over the same chunks in the same process.
import { createHash } from 'node:crypto';
import { decodeManifest, encodeManifest, generateSigningKey, newUpdateId, signBytesNative, signEnvelope, verifyEnvelope } from '@tributary/proto';
import { bestSeconds, options, report, round, table } from './stack.mjs';

const CHUNK = 1 << 20;

export async function run(args, { quick = false } = {}) {
  const o = options(args, { mib: quick ? 16 : 256, updates: quick ? 4 : 8 });
  const payload = new Uint8Array(o.mib * CHUNK).map((_, i) => (i * 2654435761) >>> 24);
  const chunks = Array.from({ length: o.mib }, (_, i) => payload.subarray(i * CHUNK, (i + 1) * CHUNK));
  const digest = createHash('sha256').update(payload).digest('hex');
  const key = generateSigningKey('site-0');
  const envelopes = Array.from({ length: o.updates }, () =>
    signEnvelope('update', encodeManifest({ federation: 'bench', runId: 'r', round: 1, site: 'site-0', updateId: newUpdateId(), payloadSize: payload.length, payloadSha256: digest, chunkSize: CHUNK, chunkCount: o.mib }), key, signBytesNative),
  );
  const bare = bestSeconds(() => {
    for (let u = 0; u < o.updates; u++) {
      const h = createHash('sha256');
      for (const c of chunks) h.update(c);
      h.digest('hex');
    }
  });
  const verified = bestSeconds(() => {
    for (const env of envelopes) {
      if (!verifyEnvelope(env, key.publicKey)) throw new Error('a valid envelope was refused');
      const m = decodeManifest(env.body);
      const h = createHash('sha256');
      for (const c of chunks) h.update(c);
      if (h.digest('hex') !== m.payloadSha256) throw new Error('digest mismatch');
    }
  });
  const mbs = (sec) => (o.updates * payload.length) / 1e6 / sec;
  const ratio = bare / verified;
  table([{ updates: o.updates, 'MiB each': o.mib, 'bare SHA-256 MB/s': mbs(bare).toFixed(0), 'verify MB/s': mbs(verified).toFixed(0), ratio: ratio.toFixed(3) }]);
  report('verify', { updates: o.updates, mib: o.mib, mbps: round(mbs(verified), 0), sha256Mbps: round(mbs(bare), 0) }, { ratio, target: 0.9, met: ratio >= 0.9 });
}
