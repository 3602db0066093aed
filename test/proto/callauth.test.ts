import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AUTH_HEADERS,
  CallVerifier,
  callSigningBytes,
  generateSigningKey,
  sha256Hex,
  signBytes,
  signBytesNative,
  signCall,
  verifyBytes,
  type SigningKey,
} from '@tributary/proto';

const METHOD = '/tributary.v1.AdminService/StartRun';
const NOW = 1_700_000_000_000;
const admin = generateSigningKey('admin');
const body = randomBytes(40);

function setup(opts?: { skewMs?: number; maxNonces?: number }): {
  verifier: CallVerifier;
  check: (headers: Record<string, string | undefined>, over?: { method?: string; body?: Uint8Array; nowMs?: number }) => { keyId: string };
} {
  const verifier = new CallVerifier(opts);
  const keys = new Map<string, Uint8Array>([[admin.keyId, admin.publicKey]]);
  return {
    verifier,
    check: (headers, over = {}) =>
      verifier.verify({
        method: over.method ?? METHOD,
        headers,
        bodySha256Hex: sha256Hex(over.body ?? body),
        resolveKey: (id) => keys.get(id),
        nowMs: over.nowMs ?? NOW,
      }),
  };
}

const sign = (key: SigningKey = admin, at = NOW, m = METHOD, b: Uint8Array = body): Record<string, string> => signCall(key, m, b, at);

function expectRefused(fn: () => unknown, reason: string): void {
  expect(fn).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED', reason }));
}

describe('call authentication', () => {
  it('signs method, timestamp, nonce and body digest', () => {
    const h = sign();
    expect(Object.keys(h).sort()).toEqual(Object.values(AUTH_HEADERS).sort());
    expect(h[AUTH_HEADERS.keyId]).toBe(admin.keyId);
    expect(h[AUTH_HEADERS.timestamp]).toBe(String(NOW));
    expect(h[AUTH_HEADERS.nonce]).toMatch(/^[0-9a-f]{32}$/);
    const signed = Buffer.from(`tributary/v1/call\0${METHOD}\n${NOW}\n${h[AUTH_HEADERS.nonce]}\n${sha256Hex(body)}`, 'utf8');
    expect(Buffer.from(callSigningBytes(METHOD, NOW, h[AUTH_HEADERS.nonce]!, sha256Hex(body)))).toEqual(signed);
    expect(verifyBytes(admin.publicKey, signed, Buffer.from(h[AUTH_HEADERS.signature]!, 'base64'))).toBe(true);
  });

  it('signs the same bytes with node:crypto as with tweetnacl, and the verifier accepts both', () => {
    const native = signCall(admin, METHOD, body, NOW, { signer: signBytesNative });
    expect(setup().check(native)).toEqual({ keyId: admin.keyId });
    const signed = callSigningBytes(METHOD, NOW, native[AUTH_HEADERS.nonce]!, sha256Hex(body));
    expect(native[AUTH_HEADERS.signature]).toBe(Buffer.from(signBytes(admin, signed)).toString('base64'));
  });

  it('accepts a good call and names its key', () => {
    expect(setup().check(sign())).toEqual({ keyId: admin.keyId });
  });

  it('accepts timestamps within the skew either way', () => {
    const { check } = setup({ skewMs: 1000 });
    expect(check(sign(admin, NOW - 1000))).toEqual({ keyId: admin.keyId });
    expect(check(sign(admin, NOW + 1000))).toEqual({ keyId: admin.keyId });
  });

  for (const name of Object.values(AUTH_HEADERS)) {
    it(`refuses a call without ${name} (AUTH_MISSING)`, () => {
      const h: Record<string, string | undefined> = sign();
      delete h[name];
      expectRefused(() => setup().check(h), 'AUTH_MISSING');
      expectRefused(() => setup().check({ ...sign(), [name]: '' }), 'AUTH_MISSING');
    });
  }

  it('refuses a call with no headers at all (AUTH_MISSING)', () => {
    expectRefused(() => setup().check({}), 'AUTH_MISSING');
  });

  it('refuses a malformed timestamp (AUTH_MISSING)', () => {
    expectRefused(() => setup().check({ ...sign(), [AUTH_HEADERS.timestamp]: 'soon' }), 'AUTH_MISSING');
  });

  it('refuses stale and future timestamps beyond the skew (AUTH_EXPIRED)', () => {
    const { check } = setup();
    expectRefused(() => check(sign(admin, NOW - 300_001)), 'AUTH_EXPIRED');
    expectRefused(() => check(sign(admin, NOW + 300_001)), 'AUTH_EXPIRED');
  });

  it('refuses a replayed nonce (AUTH_REPLAYED)', () => {
    const { check } = setup();
    const h = sign();
    check(h);
    expectRefused(() => check(h), 'AUTH_REPLAYED');
    expectRefused(() => check(h, { nowMs: NOW + 299_000 }), 'AUTH_REPLAYED');
    expectRefused(() => check(h, { nowMs: NOW + 300_001 }), 'AUTH_EXPIRED');
  });

  it('refuses an unknown key (AUTH_UNKNOWN_KEY)', () => {
    expectRefused(() => setup().check(sign(generateSigningKey('stranger'))), 'AUTH_UNKNOWN_KEY');
  });

  it('refuses a forged signature (AUTH_SIGNATURE_INVALID)', () => {
    const { check } = setup();
    const forged = { ...sign(generateSigningKey('mallory')), [AUTH_HEADERS.keyId]: admin.keyId };
    expectRefused(() => check(forged), 'AUTH_SIGNATURE_INVALID');
    const h = sign();
    const sig = Buffer.from(h[AUTH_HEADERS.signature]!, 'base64');
    sig[0] = (sig[0] ?? 0) ^ 1;
    expectRefused(() => check({ ...h, [AUTH_HEADERS.signature]: sig.toString('base64') }), 'AUTH_SIGNATURE_INVALID');
    expectRefused(() => check({ ...h, [AUTH_HEADERS.signature]: 'not base64!' }), 'AUTH_SIGNATURE_INVALID');
  });

  it('refuses a call whose body, method, timestamp or nonce changed (AUTH_SIGNATURE_INVALID)', () => {
    const { check } = setup();
    const h = sign();
    expectRefused(() => check(h, { body: Buffer.concat([body, Buffer.from([0])]) }), 'AUTH_SIGNATURE_INVALID');
    expectRefused(() => check(h, { method: '/tributary.v1.AdminService/StopRun' }), 'AUTH_SIGNATURE_INVALID');
    expectRefused(() => check({ ...h, [AUTH_HEADERS.timestamp]: String(NOW + 1) }), 'AUTH_SIGNATURE_INVALID');
    expectRefused(() => check({ ...h, [AUTH_HEADERS.nonce]: 'f'.repeat(32) }), 'AUTH_SIGNATURE_INVALID');
    // None of those burnt the genuine call's nonce.
    expect(check(h)).toEqual({ keyId: admin.keyId });
  });

  it('remembers nonces only for verified calls', () => {
    const { check } = setup();
    const genuine = sign();
    const forged = { ...sign(generateSigningKey('mallory')), [AUTH_HEADERS.keyId]: admin.keyId, [AUTH_HEADERS.nonce]: genuine[AUTH_HEADERS.nonce]! };
    expectRefused(() => check(forged), 'AUTH_SIGNATURE_INVALID');
    expect(check(genuine)).toEqual({ keyId: admin.keyId });
  });

  it('refuses new calls with RATE_LIMITED rather than forget live nonces beyond maxNonces', () => {
    const { check } = setup({ maxNonces: 2 });
    const first = sign();
    check(first);
    check(sign());
    expect(() => check(sign())).toThrow(expect.objectContaining({ code: 'RESOURCE_EXHAUSTED', reason: 'RATE_LIMITED' }));
    expectRefused(() => check(first), 'AUTH_REPLAYED');
  });
});
