import { CallVerifier, Reason, TributaryError, isTributaryError, keyIdOf, parsePublicKey, sha256Hex, type NonceStore, type RememberedNonce } from '@tributary/proto';
import type { SiteRecord, StateStore } from '../state/index.js';
import type { Principal } from './principal.js';
import type { PrincipalRegistry } from './principal-registry.js';
import type { CallRateLimits } from './rate-limits.js';

/** Methods a key the coordinator does not know yet may call: it proves possession of the key it presents. */
const ENROLL_METHOD = '/tributary.v1.SiteService/Enroll';
/** An EnrollRequest is a token, a name and a 32-byte key: a stranger's body is refused past this size undecoded. */
const MAX_ENROLL_BYTES = 4096;

/** A key that was known when its call failed authentication (bad signature, replay, revoked). */
export interface KnownCaller {
  readonly keyId: string;
  /** The site's name, for a site key. */
  readonly name?: string;
}

/** Where a failed call's error keeps the caller whose key was known. */
const KNOWN_CALLER = 'knownCaller';

/**
 * The caller of a call that failed authentication after its key was found (a bad signature, a
 * replay, a revoked key), from the error `authenticate` threw; undefined for strangers.
 */
export function knownCallerOf(err: unknown): KnownCaller | undefined {
  for (let e: unknown = err, depth = 0; isTributaryError(e) && depth < 3; e = e.cause, depth += 1) {
    const caller = e.details?.[KNOWN_CALLER];
    if (typeof caller === 'object' && caller !== null && typeof (caller as KnownCaller).keyId === 'string') return caller as KnownCaller;
  }
  return undefined;
}

/** `err` as a TributaryError that names the caller whose key was known, for the audit log. */
export function withKnownCaller(err: unknown, caller: KnownCaller): TributaryError {
  const e = TributaryError.from(err);
  return TributaryError.of(e.reason, e.message, { code: e.code, retryable: e.retryable, cause: err, details: { ...e.details, [KNOWN_CALLER]: caller } });
}

/** What a call presents: its method, its auth headers, its first message's bytes and how to decode them. */
export interface PresentedCall {
  method: string;
  headers: Record<string, string | undefined>;
  body: Buffer;
  decode: (bytes: Buffer) => object;
}

/**
 * Verifies every call's signature (key id, timestamp within the skew window, fresh nonce,
 * signature over method, timestamp, nonce and the request's digest) and resolves the principal.
 * It spends nothing on strangers: the body of a call from an unknown key is neither hashed nor
 * decoded (Enroll aside, whose small body carries the key), and a call's nonce is recorded only
 * once its key is known, or, for Enroll, once the invitation is found valid (see claimNonce).
 * Callers learn only AUTH_FAILED for an unknown key or a bad signature; the precise reason stays
 * in the error's cause for the log and the metric.
 */
export class CallAuthenticator {
  private readonly verifier: CallVerifier;

  constructor(
    private readonly opts: {
      state: StateStore;
      /** The admin-side keys: owners and principals. */
      principals: PrincipalRegistry;
      /** Largest accepted clock difference of a call. */
      skewMs: number;
      nonces: NonceStore;
      limits: CallRateLimits;
    },
  ) {
    this.verifier = new CallVerifier({ skewMs: opts.skewMs, nonces: opts.nonces });
  }

  async authenticate(call: PresentedCall): Promise<{ principal: Principal; request: object }> {
    try {
      return await this.check(call);
    } catch (err) {
      if (isTributaryError(err) && (err.reason === Reason.AUTH_UNKNOWN_KEY || err.reason === Reason.AUTH_SIGNATURE_INVALID)) {
        throw TributaryError.of(Reason.AUTH_FAILED, 'call authentication failed: check the key and how the call is signed', { cause: err });
      }
      throw err;
    }
  }

  private async check(call: PresentedCall): Promise<{ principal: Principal; request: object }> {
    const { keyId } = this.verifier.checkHeaders(call.headers);
    const admin = await this.opts.principals.adminKey(keyId);
    const site = admin ? undefined : await this.opts.state.getSiteByKeyId(keyId);
    const publicKey = admin?.publicKey ?? (site ? parsePublicKey(site.publicKey) : undefined);
    if (publicKey !== undefined) {
      try {
        const verified = this.verifier.verifySignature({ method: call.method, headers: call.headers, bodySha256Hex: () => sha256Hex(call.body), resolveKey: () => publicKey });
        if (site && site.status !== 'APPROVED') throw TributaryError.of(Reason.KEY_REVOKED, `the key of site "${site.name}" is revoked`);
        if (admin?.disabled === true) throw TributaryError.of(Reason.PRINCIPAL_DISABLED, `principal "${admin.name}" is disabled`);
        this.opts.limits.chargeKey(keyId);
        this.verifier.claim(verified.nonce);
        const request = call.decode(call.body);
        if (admin === undefined) return { principal: { role: 'site', keyId, site: site as SiteRecord }, request };
        const permissions = await this.opts.principals.permissionsOf(admin);
        return { principal: { role: 'admin', keyId, name: admin.name, groups: admin.groups, owner: admin.owner, permissions }, request };
      } catch (err) {
        // The key is known: the audit log records who failed, as it does not for strangers.
        const caller: KnownCaller = { keyId, ...(site ? { name: site.name } : admin ? { name: admin.name } : {}) };
        throw withKnownCaller(err, caller);
      }
    }
    if (call.method !== ENROLL_METHOD) throw TributaryError.of(Reason.AUTH_UNKNOWN_KEY, `unknown key ${keyId}`);
    if (call.body.byteLength > MAX_ENROLL_BYTES) {
      throw TributaryError.of(Reason.MALFORMED_REQUEST, `an Enroll request is at most ${MAX_ENROLL_BYTES} bytes (got ${call.body.byteLength})`);
    }
    const request = call.decode(call.body);
    const pk = (request as { publicKey?: Uint8Array }).publicKey;
    if (!pk || pk.byteLength !== 32 || keyIdOf(pk) !== keyId) throw TributaryError.of(Reason.AUTH_UNKNOWN_KEY, 'the Enroll request carries another key than the one that signed it');
    const verified = this.verifier.verifySignature({ method: call.method, headers: call.headers, bodySha256Hex: () => sha256Hex(call.body), resolveKey: () => pk });
    const nonce: RememberedNonce = verified.nonce;
    return { principal: { role: 'enrolling', keyId, publicKey: pk, claimNonce: () => this.verifier.claim(nonce) }, request };
  }
}
