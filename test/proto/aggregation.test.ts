import {
  MAX_AGGREGATION_MESSAGE_BYTES,
  aggregationEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  generateSigningKey,
  openFoldJob,
  openFoldVerdict,
  openPartialManifest,
  openPartialRequest,
  signFoldJob,
  signFoldVerdict,
  signPartialManifest,
  signPartialRequest,
  verifyFoldVerdict,
  verifyPartialManifest,
} from '@tributary/proto';
import { describe, expect, it } from 'vitest';

const coordinator = generateSigningKey('coordinator');
const worker = generateSigningKey('agg-1');
const verdict = { epoch: 'e1', runId: 'run-1', round: 3, updateId: 'ab'.repeat(16), manifestSha256: 'cd'.repeat(32), accepted: true, worker: 'agg-1' };

describe('aggregation wire messages', () => {
  it('open as signed: a fold job, a verdict, a partial request and a partial manifest', () => {
    expect(openFoldJob(signFoldJob({ epoch: 'e1', runId: 'run-1', round: 3, numExamples: 7 }, coordinator), coordinator.publicKey).body).toMatchObject({ epoch: 'e1', round: 3, numExamples: 7 });
    expect(openFoldVerdict(signFoldVerdict(verdict, worker), worker.publicKey)).toMatchObject({ keyId: worker.keyId, body: { accepted: true, worker: 'agg-1' } });
    expect(openPartialRequest(signPartialRequest({ epoch: 'e1', runId: 'run-1', round: 3, abandon: true }, coordinator), coordinator.publicKey).body.abandon).toBe(true);
    expect(openPartialManifest(signPartialManifest({ worker: 'agg-1', updateIds: ['a', 'b'], totalWeight: 12 }, worker), worker.publicKey).body).toMatchObject({ updateIds: ['a', 'b'], totalWeight: 12 });
  });

  it('refuses a message signed by another key with SIGNATURE_INVALID', () => {
    expect(() => openPartialManifest(signPartialManifest({ worker: 'agg-1' }, generateSigningKey('stranger')), worker.publicKey)).toThrow(expect.objectContaining({ reason: 'SIGNATURE_INVALID' }));
  });

  it('refuses a signature made for one kind presented as another', () => {
    const env = decodeEnvelope(signFoldVerdict(verdict, worker));
    const relabelled = encodeEnvelope({ ...env, kind: 'partial' });
    expect(() => openPartialManifest(relabelled, worker.publicKey)).toThrow(expect.objectContaining({ reason: 'SIGNATURE_INVALID' }));
  });

  it('refuses an envelope of the wrong kind with MALFORMED_ENVELOPE', () => {
    expect(() => openPartialManifest(signFoldVerdict(verdict, worker), worker.publicKey)).toThrow(expect.objectContaining({ reason: 'MALFORMED_ENVELOPE' }));
  });

  it('refuses a message larger than the bound before decoding it', () => {
    expect(() => openFoldJob(new Uint8Array(MAX_AGGREGATION_MESSAGE_BYTES + 1), coordinator.publicKey)).toThrow(expect.objectContaining({ reason: 'MALFORMED_ENVELOPE' }));
  });

  it('verify an envelope already read for its key id, with the same checks as opening the bytes', () => {
    const env = aggregationEnvelope(signFoldVerdict(verdict, worker), 'fold-verdict');
    expect(env.keyId).toBe(worker.keyId);
    expect(verifyFoldVerdict(env, worker.publicKey)).toMatchObject({ keyId: worker.keyId, body: { accepted: true, worker: 'agg-1' } });
    expect(() => verifyFoldVerdict(env, coordinator.publicKey)).toThrow(expect.objectContaining({ reason: 'SIGNATURE_INVALID' }));
    expect(() => verifyPartialManifest(env, worker.publicKey)).toThrow(expect.objectContaining({ reason: 'MALFORMED_ENVELOPE' }));
    const partial = aggregationEnvelope(signPartialManifest({ worker: 'agg-1', updateIds: ['a'], totalWeight: 3 }, worker), 'partial');
    expect(verifyPartialManifest(partial, worker.publicKey).body).toMatchObject({ updateIds: ['a'], totalWeight: 3 });
  });
});
