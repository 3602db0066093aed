import { randomBytes } from 'node:crypto';
import { Reason, TributaryError } from './errors.js';
import { decodeBase64Exact, sha256Hex, toBase64 } from './encoding.js';
import { SIGNATURE_BYTES, signBytes, verifyBytes, type SigningKey } from './keys.js';

export { REASON_TRAILER } from './errors.js';

/** gRPC metadata keys of a signed call. */
export const AUTH_HEADERS = {
  keyId: 'x-tributary-key-id',
  timestamp: 'x-tributary-timestamp',
  nonce: 'x-tributary-nonce',
  signature: 'x-tributary-signature',
} as const;

/** @default 5 minutes */
export const DEFAULT_AUTH_SKEW_MS = 300_000;
/** @default one million */
export const DEFAULT_MAX_NONCES = 1_000_000;

const TIMESTAMP = /^(0|[1-9][0-9]{0,15})$/;
const NONCE = /^[A-Za-z0-9_-]{16,128}$/;
const KEY_ID = /^[0-9a-f]{32}$/;

/**
 * The bytes a call signature covers (UTF-8): "tributary/v1/call\0" method "\n" timestamp "\n"
 * nonce "\n" body-digest, where method is the full gRPC path, e.g. "/tributary.v1.AdminService/StartRun".
 */
export function callSigningBytes(method: string, timestampMs: number, nonce: string, bodySha256Hex: string): Uint8Array {
  return Buffer.from(`tributary/v1/call\0${method}\n${timestampMs}\n${nonce}\n${bodySha256Hex}`, 'utf8');
}

/** The four auth headers for a call of `method` whose serialised request is `body`. */
export function signCall(key: SigningKey, method: string, body: Uint8Array, nowMs: number = Date.now()): Record<string, string> {
  const timestamp = Math.floor(nowMs);
  const nonce = randomBytes(16).toString('hex');
  const signature = signBytes(key, callSigningBytes(method, timestamp, nonce, sha256Hex(body)));
  return {
    [AUTH_HEADERS.keyId]: key.keyId,
    [AUTH_HEADERS.timestamp]: String(timestamp),
    [AUTH_HEADERS.nonce]: nonce,
    [AUTH_HEADERS.signature]: toBase64(signature),
  };
}

export interface CallVerifierOptions {
  /** Largest accepted distance between the call's timestamp and the clock. @default 300_000 */
  skewMs?: number;
  /** Nonces remembered at most; the oldest are forgotten first. @default 1_000_000 */
  maxNonces?: number;
  /**
   * Called with every nonce the verifier starts remembering, so a server can journal them and
   * `remember()` them after a restart: a call captured before a restart then stays refused.
   */
  onNonce?: (entry: RememberedNonce) => void;
}

/** A nonce a verifier refuses to see again until `untilMs`. */
export interface RememberedNonce {
  keyId: string;
  nonce: string;
  untilMs: number;
}

export interface CallToVerify {
  /** Full gRPC path of the called method. */
  method: string;
  headers: Record<string, string | undefined>;
  /** Hex SHA-256 of the request bytes as received. */
  bodySha256Hex: string;
  /** The public key of a known, usable key id; undefined otherwise. */
  resolveKey: (keyId: string) => Uint8Array | undefined;
  nowMs?: number;
}

/** Checks signed calls: headers present, timestamp within the skew, key known, signature, no replay. */
export class CallVerifier {
  readonly skewMs: number;
  readonly maxNonces: number;
  // "<keyId>:<nonce>" -> time until which a replay must be refused; insertion-ordered.
  private readonly nonces = new Map<string, number>();
  private readonly onNonce: ((entry: RememberedNonce) => void) | undefined;

  constructor(opts: CallVerifierOptions = {}) {
    this.skewMs = opts.skewMs ?? DEFAULT_AUTH_SKEW_MS;
    this.maxNonces = opts.maxNonces ?? DEFAULT_MAX_NONCES;
    this.onNonce = opts.onNonce;
    if (!(Number.isFinite(this.skewMs) && this.skewMs >= 0)) throw new RangeError('skewMs must be a non-negative number');
    if (!(Number.isInteger(this.maxNonces) && this.maxNonces > 0)) throw new RangeError('maxNonces must be a positive integer');
  }

  /** Returns the caller's key id; throws UNAUTHENTICATED with an AUTH_* reason otherwise. */
  verify(input: CallToVerify): { keyId: string } {
    const now = input.nowMs ?? Date.now();
    const keyId = header(input.headers, AUTH_HEADERS.keyId);
    const timestampText = header(input.headers, AUTH_HEADERS.timestamp);
    const nonce = header(input.headers, AUTH_HEADERS.nonce);
    const signatureText = header(input.headers, AUTH_HEADERS.signature);
    if (!KEY_ID.test(keyId)) throw TributaryError.of(Reason.AUTH_MISSING, `malformed ${AUTH_HEADERS.keyId} header`);
    if (!TIMESTAMP.test(timestampText)) throw TributaryError.of(Reason.AUTH_MISSING, `malformed ${AUTH_HEADERS.timestamp} header`);
    if (!NONCE.test(nonce)) throw TributaryError.of(Reason.AUTH_MISSING, `malformed ${AUTH_HEADERS.nonce} header`);

    const timestamp = Number(timestampText);
    if (Math.abs(now - timestamp) > this.skewMs) {
      throw TributaryError.of(
        Reason.AUTH_EXPIRED,
        `call timestamp is ${Math.round((now - timestamp) / 1000)} s away from the server clock (allowed ${Math.round(this.skewMs / 1000)} s); check the clock`,
      );
    }
    const publicKey = input.resolveKey(keyId);
    if (publicKey === undefined) throw TributaryError.of(Reason.AUTH_UNKNOWN_KEY, `unknown key ${keyId}`);

    const signature = decodeBase64Exact(signatureText, SIGNATURE_BYTES);
    const signed = callSigningBytes(input.method, timestamp, nonce, input.bodySha256Hex);
    if (signature === undefined || !verifyBytes(publicKey, signed, signature)) {
      throw TributaryError.of(Reason.AUTH_SIGNATURE_INVALID, `call signature does not verify for key ${keyId}`);
    }

    const nonceKey = `${keyId}:${nonce}`;
    this.forgetExpired(now);
    if (this.nonces.has(nonceKey)) throw TributaryError.of(Reason.AUTH_REPLAYED, 'call replayed (nonce already used)');
    const untilMs = timestamp + this.skewMs;
    this.nonces.set(nonceKey, untilMs);
    this.onNonce?.({ keyId, nonce, untilMs });
    while (this.nonces.size > this.maxNonces) {
      const oldest = this.nonces.keys().next();
      if (oldest.done === true) break;
      this.nonces.delete(oldest.value);
    }
    return { keyId };
  }

  /** Refuses a nonce until `untilMs`, as if a call had used it (nonces journaled before a restart). */
  remember(entry: RememberedNonce, nowMs = Date.now()): void {
    if (entry.untilMs < nowMs) return;
    this.nonces.set(`${entry.keyId}:${entry.nonce}`, entry.untilMs);
  }

  // Entries arrive in roughly timestamp order, so pruning from the front is enough; an entry
  // left behind is harmless: a replay of it fails the skew check first.
  private forgetExpired(now: number): void {
    for (const [k, until] of this.nonces) {
      if (until >= now) break;
      this.nonces.delete(k);
    }
  }
}

function header(headers: Record<string, string | undefined>, name: string): string {
  const v = headers[name];
  if (typeof v !== 'string' || v === '') throw TributaryError.of(Reason.AUTH_MISSING, `missing ${name} header: calls must be signed`);
  return v;
}
