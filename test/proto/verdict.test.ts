import { describe, expect, it } from 'vitest';
import {
  MAX_VERDICT_BYTES,
  decodeEnvelope,
  encodeEnvelope,
  encodeUpdateStatus,
  envelopeSigningBytes,
  generateSigningKey,
  newUpdateId,
  openVerdict,
  signEnvelope,
  signVerdict,
  verifyBytes,
  type UpdateStatus,
} from '@tributary/proto';

const coordinator = generateSigningKey('coordinator');

function status(): UpdateStatus {
  return {
    updateId: newUpdateId(),
    state: 'UPDATE_STATE_REFUSED',
    reason: 'NORM_EXCEEDED',
    message: 'update norm 31.2 exceeds the bound 5',
    federation: 'churn',
    runId: '0123456789abcdef',
    round: 3,
    site: 'clinic-a',
    payloadSha256: '',
    payloadSize: 0,
  };
}

function refusalOf(bytes: Uint8Array, key: Uint8Array = coordinator.publicKey): string {
  const opened = openVerdict(bytes, key);
  if (opened.ok) throw new Error('the verdict was believed');
  return opened.refusal.reason;
}

describe('verdicts', () => {
  it('opens a verdict signed by the coordinator into the status it signed', () => {
    const s = status();
    const opened = openVerdict(signVerdict(s, coordinator), coordinator.publicKey);
    expect(opened).toEqual({ ok: true, status: s });
  });

  it('signs "tributary/v1/verdict\\0" followed by the UpdateStatus bytes, under the coordinator key id', () => {
    const env = decodeEnvelope(signVerdict(status(), coordinator));
    expect(env.kind).toBe('verdict');
    expect(env.keyId).toBe(coordinator.keyId);
    const signed = Buffer.concat([Buffer.from('tributary/v1/verdict\0', 'utf8'), env.body]);
    expect(Buffer.from(envelopeSigningBytes('verdict', env.body))).toEqual(signed);
    expect(verifyBytes(coordinator.publicKey, signed, env.signature)).toBe(true);
  });

  it('makes the same envelope bytes with node:crypto as tweetnacl would', () => {
    const s = status();
    const withTweetnacl = encodeEnvelope(signEnvelope('verdict', encodeUpdateStatus(s), coordinator));
    expect(Buffer.from(signVerdict(s, coordinator))).toEqual(Buffer.from(withTweetnacl));
  });

  it('refuses a verdict signed by another key with VERDICT_SIGNATURE_INVALID', () => {
    const forger = generateSigningKey('forger');
    expect(refusalOf(signVerdict(status(), forger))).toBe('VERDICT_SIGNATURE_INVALID');
  });

  it('refuses another key\'s signature that claims the coordinator key id with VERDICT_SIGNATURE_INVALID', () => {
    const forger = generateSigningKey('forger');
    const env = signEnvelope('verdict', encodeUpdateStatus(status()), forger);
    expect(refusalOf(encodeEnvelope({ ...env, keyId: coordinator.keyId }))).toBe('VERDICT_SIGNATURE_INVALID');
  });

  it('refuses a verdict whose body was changed after signing with VERDICT_SIGNATURE_INVALID', () => {
    const env = decodeEnvelope(signVerdict(status(), coordinator));
    const accepted = encodeUpdateStatus({ ...status(), state: 'UPDATE_STATE_ACCEPTED', reason: '', message: '' });
    expect(refusalOf(encodeEnvelope({ ...env, body: Buffer.from(accepted) }))).toBe('VERDICT_SIGNATURE_INVALID');
    const flipped = Buffer.from(env.body);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 0x01;
    expect(refusalOf(encodeEnvelope({ ...env, body: flipped }))).toBe('VERDICT_SIGNATURE_INVALID');
  });

  it('refuses a coordinator signature made for another kind with VERDICT_SIGNATURE_INVALID', () => {
    // Signed as an update manifest, relabelled as a verdict: the domain tag differs.
    const env = signEnvelope('update', encodeUpdateStatus(status()), coordinator);
    expect(refusalOf(encodeEnvelope({ ...env, kind: 'verdict' }))).toBe('VERDICT_SIGNATURE_INVALID');
  });

  it('refuses an envelope of another kind with MALFORMED_ENVELOPE', () => {
    const env = signEnvelope('metrics', encodeUpdateStatus(status()), coordinator);
    expect(refusalOf(encodeEnvelope(env))).toBe('MALFORMED_ENVELOPE');
  });

  it('refuses a bare, unsigned UpdateStatus', () => {
    const opened = openVerdict(encodeUpdateStatus({ ...status(), state: 'UPDATE_STATE_ACCEPTED' }), coordinator.publicKey);
    expect(opened.ok).toBe(false);
  });

  it('refuses truncated verdict bytes with MALFORMED_ENVELOPE or VERDICT_SIGNATURE_INVALID, never believing them', () => {
    const bytes = signVerdict(status(), coordinator);
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(['MALFORMED_ENVELOPE', 'VERDICT_SIGNATURE_INVALID']).toContain(refusalOf(bytes.subarray(0, cut)));
    }
  });

  it('refuses garbage and oversized messages with MALFORMED_ENVELOPE', () => {
    expect(refusalOf(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]))).toBe('MALFORMED_ENVELOPE');
    expect(refusalOf(new Uint8Array(MAX_VERDICT_BYTES + 1))).toBe('MALFORMED_ENVELOPE');
  });

  it('refuses a signed body that is not an UpdateStatus with MALFORMED_ENVELOPE', () => {
    const env = signEnvelope('verdict', new Uint8Array([0x0a, 0x7f, 0x01]), coordinator);
    expect(refusalOf(encodeEnvelope(env))).toBe('MALFORMED_ENVELOPE');
  });
});
