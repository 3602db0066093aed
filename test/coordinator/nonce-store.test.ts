import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BucketedNonceStore } from '../../coordinator/src/auth/nonce-store.js';

const SKEW = 80_000;
const NOW = 1_700_000_000_000;
const KEY = 'a'.repeat(32);

describe('the bucketed nonce store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-nonces-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const nonce = (n: number, untilMs = NOW + SKEW) => ({ keyId: KEY, nonce: `nonce-${String(n).padStart(12, '0')}`, untilMs });

  it('refuses a nonce it holds, also after a restart', () => {
    const store = BucketedNonceStore.open(dir, { skewMs: SKEW, maxNonces: 10, nowMs: NOW });
    expect(store.claim(nonce(1), NOW)).toBe('fresh');
    expect(store.claim(nonce(1), NOW)).toBe('replayed');
    store.close();
    const reopened = BucketedNonceStore.open(dir, { skewMs: SKEW, maxNonces: 10, nowMs: NOW });
    expect(reopened.claim(nonce(1), NOW)).toBe('replayed');
    expect(reopened.size).toBe(1);
    reopened.close();
  });

  it('answers full instead of forgetting a live nonce', () => {
    const store = BucketedNonceStore.open(dir, { skewMs: SKEW, maxNonces: 2, nowMs: NOW });
    expect(store.claim(nonce(1), NOW)).toBe('fresh');
    expect(store.claim(nonce(2), NOW)).toBe('fresh');
    expect(store.claim(nonce(3), NOW)).toBe('full');
    expect(store.claim(nonce(1), NOW)).toBe('replayed');
    store.close();
  });

  it('drops a slice of the window whole, file and all, once it has aged out', async () => {
    const store = BucketedNonceStore.open(dir, { skewMs: SKEW, maxNonces: 2, nowMs: NOW });
    store.claim(nonce(1, NOW + 1_000), NOW);
    store.claim(nonce(2, NOW + 1_000), NOW);
    expect(await readdir(dir)).toHaveLength(1);
    const later = NOW + 1_000 + SKEW;
    expect(store.claim(nonce(3, later + SKEW), later)).toBe('fresh');
    expect(store.size).toBe(1);
    expect(await readdir(dir)).toHaveLength(1);
    store.close();
  });
});
