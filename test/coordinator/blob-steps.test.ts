import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, safetensorsParts, sha256Hex, tensor } from '@tributary/proto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobStore } from '../../coordinator/src/state/index.js';
import { sha256HexInSteps } from '../../coordinator/src/state/blob-store.js';
import { prng } from '../helpers/random.js';

/** A model of `n` float32 values in two tensors, from a seeded source. */
function model(n: number): { w: ReturnType<typeof tensor>; b: ReturnType<typeof tensor> } {
  const random = prng(11);
  const w = new Float32Array(n - 7);
  for (let i = 0; i < w.length; i++) w[i] = random() - 0.5;
  return { w: tensor('F32', [w.length], w), b: tensor('F32', [7], new Float32Array([1, 2, 3, 4, 5, 6, 7])) };
}

describe('hashing and storing a model in steps', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-blob-steps-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the digest of the whole bytes whatever the step, across part boundaries', async () => {
    const parts = [new Uint8Array(5).fill(1), new Uint8Array(1000).fill(2), new Uint8Array(3).fill(3)];
    const whole = createHash('sha256');
    for (const p of parts) whole.update(p);
    const expected = whole.digest('hex');
    for (const step of [1, 7, 64, 1000, 1008, 4096]) expect(await sha256HexInSteps(parts, step)).toBe(expected);
  });

  it('lets the event loop turn between the steps of a large input', async () => {
    let turned = false;
    setImmediate(() => (turned = true));
    await sha256HexInSteps([new Uint8Array(4096)], 1024);
    expect(turned).toBe(true);
  });

  it('stores a committed model with the same bytes and digest as encoding it in one buffer', async () => {
    const tensors = model(3 * 2 ** 20);
    const encoded = encodeSafetensors(tensors, { round: '1' });
    const blobs = new BlobStore(dir);
    const stored = await blobs.putParts(safetensorsParts(tensors, { round: '1' }).parts);
    expect(stored).toEqual({ sha256: sha256Hex(encoded), size: encoded.length, created: true });
    expect(Buffer.compare(await readFile(blobs.path(stored.sha256)), encoded)).toBe(0);
  });

  it('stores verified bytes under the digest they were verified against, once', async () => {
    const bytes = new Uint8Array(3 * 2 ** 20 + 5).map((_, i) => i % 251);
    const sha256 = sha256Hex(bytes);
    const blobs = new BlobStore(dir);
    expect(await blobs.putVerified(bytes, sha256)).toBe(true);
    expect(Buffer.compare(await readFile(blobs.path(sha256)), bytes)).toBe(0);
    expect(await blobs.putVerified(bytes, sha256)).toBe(false);
    expect((await blobs.putParts([bytes])).created).toBe(false);
  });
});
