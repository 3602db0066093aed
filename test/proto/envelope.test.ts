import { describe, expect, it } from 'vitest';
import {
  UPDATE_ID_PATTERN,
  decodeEnvelope,
  decodeManifest,
  decodeMetricBatch,
  decodeUpdateStatus,
  encodeEnvelope,
  encodeManifest,
  encodeMetricBatch,
  encodeUpdateStatus,
  envelopeSigningBytes,
  generateSigningKey,
  newUpdateId,
  signEnvelope,
  verifyBytes,
  verifyEnvelope,
  type SignedEnvelope__Output,
  type UpdateManifest,
} from '@tributary/proto';

const key = generateSigningKey('site-a');

function manifest(): UpdateManifest {
  return {
    federation: 'churn',
    runId: '0123456789abcdef',
    round: 2,
    site: 'site-a',
    updateId: newUpdateId(),
    createdAtMs: 1_700_000_000_000,
    numExamples: 120,
    metrics: { loss: 0.25, accuracy: 0.9 },
    payloadSize: 4096,
    payloadSha256: 'ab'.repeat(32),
    chunkCount: 1,
    chunkSize: 983_040,
    tensors: [{ name: 'w', dtype: 'F32', shape: [32, 32] }],
    flavor: 'tensors',
    baseVersion: 3,
    taskKind: '',
    datasets: [{ name: 'claims', digest: 'cd'.repeat(32), schema: '', rows: 120, source: 'warehouse.claims', context: 'training' }],
    context: { 'code.version': '4f2a9c1' },
  };
}

function flip(b: Buffer, i: number): Buffer {
  const c = Buffer.from(b);
  c[i] = (c[i] ?? 0) ^ 0x01;
  return c;
}

describe('signed envelopes', () => {
  it('signs "tributary/v1/<kind>\\0" || body', () => {
    const body = Buffer.from([1, 2, 3]);
    expect(Buffer.from(envelopeSigningBytes('update', body))).toEqual(Buffer.from('tributary/v1/update\0\x01\x02\x03', 'latin1'));
    const env = signEnvelope('metrics', body, key);
    expect(verifyBytes(key.publicKey, Buffer.from('tributary/v1/metrics\0\x01\x02\x03', 'latin1'), env.signature)).toBe(true);
    expect(env.keyId).toBe(key.keyId);
  });

  it('verifies after encoding and decoding, and the manifest decodes from the signed body', () => {
    const m = manifest();
    const env = decodeEnvelope(encodeEnvelope(signEnvelope('update', encodeManifest(m), key)));
    expect(Buffer.isBuffer(env.body)).toBe(true);
    expect(verifyEnvelope(env, key.publicKey)).toBe(true);
    expect(decodeManifest(env.body)).toEqual({ ...m, tensors: [{ name: 'w', dtype: 'F32', shape: [32, 32] }] });
  });

  it('fails for a tampered body, signature, kind or key id, or another key', () => {
    const env = signEnvelope('update', encodeManifest(manifest()), key);
    const bad: SignedEnvelope__Output[] = [
      { ...env, body: flip(env.body, 5) },
      { ...env, body: env.body.subarray(1) },
      { ...env, signature: flip(env.signature, 10) },
      { ...env, signature: env.signature.subarray(0, 63) },
      { ...env, kind: 'metrics' },
      { ...env, kind: 'other' },
      { ...env, keyId: generateSigningKey('x').keyId },
    ];
    for (const e of bad) expect(verifyEnvelope(e, key.publicKey)).toBe(false);
    expect(verifyEnvelope(env, generateSigningKey('x').publicKey)).toBe(false);
    expect(verifyEnvelope(env, key.publicKey)).toBe(true);
  });
});

describe('wire codecs', () => {
  it('decodes missing fields to defaults with bytes as Buffer', () => {
    const env = decodeEnvelope(new Uint8Array(0));
    expect(env).toEqual({ kind: '', body: Buffer.alloc(0), signature: Buffer.alloc(0), keyId: '' });
    expect(Buffer.isBuffer(env.signature)).toBe(true);
  });

  it('refuses garbage with MALFORMED_ENVELOPE and MALFORMED_MANIFEST', () => {
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(() => decodeEnvelope(garbage)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', reason: 'MALFORMED_ENVELOPE' }));
    expect(() => decodeManifest(garbage)).toThrow(expect.objectContaining({ reason: 'MALFORMED_MANIFEST' }));
    expect(() => decodeManifest(Buffer.from([0x1f]))).toThrow(expect.objectContaining({ reason: 'MALFORMED_MANIFEST' }));
    // A string field cut short is refused, not clamped.
    expect(() => decodeEnvelope(Buffer.from([0x0a, 0x05, 0x41]))).toThrow(expect.objectContaining({ reason: 'MALFORMED_ENVELOPE' }));
  });

  it('round-trips metric batches and update statuses', () => {
    const batch = {
      federation: 'churn',
      runId: 'r1',
      round: 1,
      site: 'site-a',
      batchId: newUpdateId(),
      createdAtMs: 5,
      points: [{ key: 'loss', value: 0.5, timestampMs: 4, step: 10 }],
    };
    expect(decodeMetricBatch(encodeMetricBatch(batch))).toEqual(batch);
    const status = {
      updateId: newUpdateId(),
      state: 'UPDATE_STATE_REFUSED' as const,
      reason: 'DIGEST_MISMATCH',
      message: 'digest differs',
      federation: 'churn',
      runId: 'r1',
      round: 1,
      site: 'site-a',
      payloadSha256: '',
      payloadSize: 0,
    };
    expect(decodeUpdateStatus(encodeUpdateStatus(status))).toEqual(status);
    const accepted = { ...status, state: 'UPDATE_STATE_ACCEPTED' as const, reason: '', message: '', payloadSha256: 'ab'.repeat(32), payloadSize: 5_000_000_000 };
    expect(decodeUpdateStatus(encodeUpdateStatus(accepted))).toEqual(accepted);
  });

  it('mints 128-bit update ids as 32 lowercase hex characters', () => {
    const ids = new Set(Array.from({ length: 100 }, () => newUpdateId()));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(UPDATE_ID_PATTERN);
  });
});
