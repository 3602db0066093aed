import { CallVerifier, Reason, TributaryError, keyIdOf, parsePublicKey, AUTH_HEADERS, type RememberedNonce } from '@tributary/proto';
import type { NonceJournal } from './nonce-journal.js';
import type { StateStore } from '../state/index.js';
import type { Principal } from './principal.js';

/** Methods a key the coordinator does not know yet may call: it proves possession of the key it presents. */
const ENROLL_METHOD = '/tributary.v1.SiteService/Enroll';

/**
 * Verifies every call's signature (key id, timestamp within the skew window, fresh nonce,
 * signature over method, timestamp, nonce and the request's digest) and resolves the principal.
 */
export class CallAuthenticator {
  private readonly verifier: CallVerifier;
  private readonly admins: Map<string, Uint8Array>;

  constructor(
    private readonly opts: {
      state: StateStore;
      adminKeys: readonly Uint8Array[];
      /** Largest accepted clock difference of a call. */
      skewMs: number;
      /** Nonces remembered at most. */
      maxNonces: number;
      journal?: NonceJournal;
      remembered?: readonly RememberedNonce[];
    },
  ) {
    const journal = opts.journal;
    this.verifier = new CallVerifier({ skewMs: opts.skewMs, maxNonces: opts.maxNonces, ...(journal ? { onNonce: (e: RememberedNonce) => journal.record(e) } : {}) });
    for (const entry of opts.remembered ?? []) this.verifier.remember(entry);
    this.admins = new Map(opts.adminKeys.map((k) => [keyIdOf(k), k]));
  }

  async authenticate(method: string, headers: Record<string, string | undefined>, bodySha256Hex: string, request: unknown): Promise<Principal> {
    const keyId = headers[AUTH_HEADERS.keyId] ?? '';
    const admin = this.admins.get(keyId);
    const site = admin || !keyId ? undefined : await this.opts.state.getSiteByKeyId(keyId);
    let enrollingKey: Uint8Array | undefined;
    if (method === ENROLL_METHOD && !admin && !site) {
      const pk = (request as { publicKey?: Uint8Array }).publicKey;
      if (pk && pk.byteLength === 32 && keyIdOf(pk) === keyId) enrollingKey = pk;
    }
    this.verifier.verify({
      method,
      headers,
      bodySha256Hex,
      resolveKey: (id) => {
        if (id !== keyId) return undefined;
        if (admin) return admin;
        if (site) return parsePublicKey(site.publicKey);
        return enrollingKey;
      },
    });
    if (admin) return { role: 'admin', keyId };
    if (site) {
      if (site.status !== 'APPROVED') {
        throw TributaryError.of(Reason.KEY_REVOKED, `the key of site "${site.name}" is revoked`);
      }
      return { role: 'site', keyId, site };
    }
    if (enrollingKey) return { role: 'enrolling', keyId, publicKey: enrollingKey };
    throw TributaryError.of(Reason.AUTH_UNKNOWN_KEY, 'unknown key');
  }
}
