import { Reason, refusalOf, type Refusal } from './errors.js';
import { signEnvelope, verifyEnvelope } from './envelope.js';
import type { UpdateStatus, UpdateStatus__Output } from './generated/tributary/v1/UpdateStatus.js';
import { keyIdOf, signBytesNative, type SigningKey } from './keys.js';
import { decodeEnvelope, decodeUpdateStatus, encodeEnvelope, encodeUpdateStatus } from './wire.js';

/** Largest verdict message read: an UpdateStatus is a few ids and a one-line message. */
export const MAX_VERDICT_BYTES = 64 * 1024;

/** A verdict message opened: the verified status, or why it is not to be believed. */
export type OpenedVerdict = { readonly ok: true; readonly status: UpdateStatus__Output } | { readonly ok: false; readonly refusal: Refusal };

/**
 * A verdict as published on trib.<federation>.verdict.<site>: an encoded SignedEnvelope of kind
 * "verdict". Signed with node:crypto: the coordinator signs one per update.
 */
export function signVerdict(status: UpdateStatus, key: SigningKey): Uint8Array {
  return encodeEnvelope(signEnvelope('verdict', encodeUpdateStatus(status), key, signBytesNative));
}

/**
 * Opens a verdict message with the coordinator's raw 32-byte public key: the envelope must decode
 * and be of kind "verdict" (MALFORMED_ENVELOPE), and its signature must verify with that key over
 * the body as received (VERDICT_SIGNATURE_INVALID); only then is the body decoded. Whether the
 * status is about the update the caller waits for is the caller's check.
 */
export function openVerdict(bytes: Uint8Array, coordinatorPublicKey: Uint8Array): OpenedVerdict {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength > MAX_VERDICT_BYTES) {
    return refused(Reason.MALFORMED_ENVELOPE, `a verdict message is at most ${MAX_VERDICT_BYTES} bytes`);
  }
  let envelope;
  try {
    envelope = decodeEnvelope(bytes);
  } catch (err) {
    return refused(Reason.MALFORMED_ENVELOPE, `verdict envelope cannot be decoded: ${messageOf(err)}`);
  }
  if (envelope.kind !== 'verdict') {
    return refused(Reason.MALFORMED_ENVELOPE, `envelope kind ${JSON.stringify(envelope.kind)} is not "verdict"`);
  }
  if (!verifyEnvelope(envelope, coordinatorPublicKey)) {
    const expected = keyIdOf(coordinatorPublicKey);
    return refused(
      Reason.VERDICT_SIGNATURE_INVALID,
      envelope.keyId === expected
        ? `verdict signature does not verify with the coordinator's key ${expected}`
        : `verdict names key ${JSON.stringify(envelope.keyId)}, not the coordinator's key ${expected}`,
    );
  }
  try {
    return { ok: true, status: decodeUpdateStatus(envelope.body) };
  } catch (err) {
    return refused(Reason.MALFORMED_ENVELOPE, `verdict body is not an UpdateStatus: ${messageOf(err)}`);
  }
}

function refused(reason: Refusal['reason'], message: string): OpenedVerdict {
  return { ok: false, refusal: refusalOf(reason, message) };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
