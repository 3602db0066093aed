import { randomBytes } from 'node:crypto';
import { Reason, TributaryError } from './errors.js';
import { decodeBase64Exact, sha256Hex, toBase64 } from './encoding.js';
import { SIGNATURE_BYTES, signBytes, verifyBytes, type Signer, type SigningKey } from './keys.js';

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
/** Nonces remembered at most within the skew window. @default one million */
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

/**
 * The four auth headers for a call of `method` whose serialised request is `body`, signed with
 * `opts.signer` (tweetnacl's `signBytes` unless told; the signature is the same either way).
 */
export function signCall(key: SigningKey, method: string, body: Uint8Array, nowMs: number = Date.now(), opts: { signer?: Signer } = {}): Record<string, string> {
  const timestamp = Math.floor(nowMs);
  const nonce = randomBytes(16).toString('hex');
  const signature = (opts.signer ?? signBytes)(key, callSigningBytes(method, timestamp, nonce, sha256Hex(body)));
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
  /** Nonces the default in-memory store holds at most; beyond it new calls are refused (RATE_LIMITED). @default 1_000_000 */
  maxNonces?: number;
  /** Where claimed nonces are kept. @default a MemoryNonceStore of `maxNonces` */
  nonces?: NonceStore;
}

/** A nonce a verifier refuses to see again until `untilMs`. */
export interface RememberedNonce {
  keyId: string;
  nonce: string;
  untilMs: number;
}

/** What a nonce store answers to a claim: recorded, seen before, or no room left. */
export type NonceClaim = 'fresh' | 'replayed' | 'full';

/**
 * Remembers the nonces of verified calls within the skew window. A store never forgets a live
 * nonce to make room: when it is full it answers 'full' and the call is refused instead.
 */
export interface NonceStore {
  claim(entry: RememberedNonce, nowMs: number): NonceClaim;
}

/** A bounded in-memory nonce store (a server that restarts journals its nonces elsewhere). */
export class MemoryNonceStore implements NonceStore {
  // "<keyId>:<nonce>" -> time until which a replay must be refused; insertion-ordered.
  private readonly nonces = new Map<string, number>();

  constructor(readonly maxNonces: number = DEFAULT_MAX_NONCES) {
    if (!(Number.isInteger(maxNonces) && maxNonces > 0)) throw new RangeError('maxNonces must be a positive integer');
  }

  claim(entry: RememberedNonce, nowMs: number): NonceClaim {
    const key = `${entry.keyId}:${entry.nonce}`;
    this.forgetExpired(nowMs);
    if (this.nonces.has(key)) return 'replayed';
    if (this.nonces.size >= this.maxNonces) return 'full';
    this.nonces.set(key, entry.untilMs);
    return 'fresh';
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

export interface CallToVerify {
  /** Full gRPC path of the called method. */
  method: string;
  headers: Record<string, string | undefined>;
  /**
   * Hex SHA-256 of the request bytes as received, or a function computing it: it is called only
   * once the key is known, so a stranger's body is never hashed.
   */
  bodySha256Hex: string | (() => string);
  /** The public key of a known, usable key id; undefined otherwise. */
  resolveKey: (keyId: string) => Uint8Array | undefined;
  nowMs?: number;
}

/** A call whose signature verified; its nonce is not claimed yet (see CallVerifier.claim). */
export interface VerifiedCall {
  keyId: string;
  nonce: RememberedNonce;
}

/** The auth headers of a call, well formed and within the skew window; nothing verified yet. */
export interface CallHeaders {
  keyId: string;
  timestamp: number;
  nonce: string;
  signature: string;
}

/** Checks signed calls: headers present, timestamp within the skew, key known, signature, no replay. */
export class CallVerifier {
  readonly skewMs: number;
  private readonly nonces: NonceStore;

  constructor(opts: CallVerifierOptions = {}) {
    this.skewMs = opts.skewMs ?? DEFAULT_AUTH_SKEW_MS;
    if (!(Number.isFinite(this.skewMs) && this.skewMs >= 0)) throw new RangeError('skewMs must be a non-negative number');
    this.nonces = opts.nonces ?? new MemoryNonceStore(opts.maxNonces ?? DEFAULT_MAX_NONCES);
  }

  /** Returns the caller's key id; throws UNAUTHENTICATED with an AUTH_* reason otherwise. */
  verify(input: CallToVerify): { keyId: string } {
    const call = this.verifySignature(input);
    this.claim(call.nonce, input.nowMs);
    return { keyId: call.keyId };
  }

  /** The headers, well formed and within the skew (AUTH_MISSING, AUTH_EXPIRED otherwise); costs no lookup. */
  checkHeaders(headers: Record<string, string | undefined>, nowMs: number = Date.now()): CallHeaders {
    const keyId = header(headers, AUTH_HEADERS.keyId);
    const timestampText = header(headers, AUTH_HEADERS.timestamp);
    const nonce = header(headers, AUTH_HEADERS.nonce);
    const signature = header(headers, AUTH_HEADERS.signature);
    if (!KEY_ID.test(keyId)) throw TributaryError.of(Reason.AUTH_MISSING, `malformed ${AUTH_HEADERS.keyId} header`);
    if (!TIMESTAMP.test(timestampText)) throw TributaryError.of(Reason.AUTH_MISSING, `malformed ${AUTH_HEADERS.timestamp} header`);
    if (!NONCE.test(nonce)) throw TributaryError.of(Reason.AUTH_MISSING, `malformed ${AUTH_HEADERS.nonce} header`);
    const timestamp = Number(timestampText);
    if (Math.abs(nowMs - timestamp) > this.skewMs) {
      throw TributaryError.of(
        Reason.AUTH_EXPIRED,
        `call timestamp is ${Math.round((nowMs - timestamp) / 1000)} s away from the server clock (allowed ${Math.round(this.skewMs / 1000)} s); check the clock`,
      );
    }
    return { keyId, timestamp, nonce, signature };
  }

  /** Checks headers, key and signature without recording the nonce; claim() it before acting on the call. */
  verifySignature(input: CallToVerify): VerifiedCall {
    const h = this.checkHeaders(input.headers, input.nowMs ?? Date.now());
    const publicKey = input.resolveKey(h.keyId);
    if (publicKey === undefined) throw TributaryError.of(Reason.AUTH_UNKNOWN_KEY, `unknown key ${h.keyId}`);
    const signature = decodeBase64Exact(h.signature, SIGNATURE_BYTES);
    const digest = typeof input.bodySha256Hex === 'function' ? input.bodySha256Hex() : input.bodySha256Hex;
    const signed = callSigningBytes(input.method, h.timestamp, h.nonce, digest);
    if (signature === undefined || !verifyBytes(publicKey, signed, signature)) {
      throw TributaryError.of(Reason.AUTH_SIGNATURE_INVALID, `call signature does not verify for key ${h.keyId}`);
    }
    return { keyId: h.keyId, nonce: { keyId: h.keyId, nonce: h.nonce, untilMs: h.timestamp + this.skewMs } };
  }

  /** Records a verified call's nonce: AUTH_REPLAYED when seen before, RATE_LIMITED when the store is full. */
  claim(nonce: RememberedNonce, nowMs: number = Date.now()): void {
    const claim = this.nonces.claim(nonce, nowMs);
    if (claim === 'replayed') throw TributaryError.of(Reason.AUTH_REPLAYED, 'call replayed (nonce already used)');
    if (claim === 'full') throw TributaryError.of(Reason.RATE_LIMITED, 'too many calls within the replay window; retry later');
  }
}

function header(headers: Record<string, string | undefined>, name: string): string {
  const v = headers[name];
  if (typeof v !== 'string' || v === '') throw TributaryError.of(Reason.AUTH_MISSING, `missing ${name} header: calls must be signed`);
  return v;
}
