import type { SignedEnvelope__Output } from './generated/tributary/v1/SignedEnvelope.js';
import { keyIdOf, signBytes, verifyBytes, type Signer, type SigningKey } from './keys.js';

/**
 * What a SignedEnvelope's body is: an UpdateManifest or a MetricBatch (signed by a site), an
 * UpdateStatus (a verdict, signed by the coordinator), a FoldJob or PartialRequest (signed by the
 * coordinator for its aggregation workers), or a FoldVerdict or PartialManifest (signed by a worker).
 * The kind is part of the signed bytes, so a signature made for one kind never verifies as another.
 */
export type EnvelopeKind = 'update' | 'metrics' | 'verdict' | 'fold-job' | 'fold-verdict' | 'partial-request' | 'partial';

const ENVELOPE_KINDS: ReadonlySet<string> = new Set<EnvelopeKind>(['update', 'metrics', 'verdict', 'fold-job', 'fold-verdict', 'partial-request', 'partial']);

export function isEnvelopeKind(s: unknown): s is EnvelopeKind {
  return typeof s === 'string' && ENVELOPE_KINDS.has(s);
}

/** The signed bytes: "tributary/v1/<kind>" || 0x00 || body. */
export function envelopeSigningBytes(kind: EnvelopeKind, body: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from(`tributary/v1/${kind}\0`, 'utf8'), body]);
}

/**
 * Signs `body` as it is; verifiers check these exact bytes before decoding them. `sign` is
 * tweetnacl's unless told otherwise (`signBytesNative` gives the same signature faster).
 */
export function signEnvelope(kind: EnvelopeKind, body: Uint8Array, key: SigningKey, sign: Signer = signBytes): SignedEnvelope__Output {
  return {
    kind,
    body: Buffer.from(body),
    signature: Buffer.from(sign(key, envelopeSigningBytes(kind, body))),
    keyId: key.keyId,
  };
}

/** True when the kind is known, the key id names `publicKey`, and the signature covers the body. */
export function verifyEnvelope(env: SignedEnvelope__Output, publicKey: Uint8Array): boolean {
  if (!isEnvelopeKind(env.kind)) return false;
  if (env.keyId !== keyIdOf(publicKey)) return false;
  if (!(env.body instanceof Uint8Array) || !(env.signature instanceof Uint8Array)) return false;
  return verifyBytes(publicKey, envelopeSigningBytes(env.kind, env.body), env.signature);
}

