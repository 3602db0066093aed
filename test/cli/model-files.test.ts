import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeSafetensors, sha256Hex, toFloat64 } from '@tributary/proto';
import { envelopeOf, runCli, type CliResult } from '../helpers/cli.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-model-files-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function tributary(args: string[]): Promise<CliResult> {
  return runCli(args, { cwd: dir, withoutOuterSettings: true, timeoutMs: 30_000 });
}

const SPEC = 'w:F32:[784,10],b:F32:[10]';

describe('tributary model init', () => {
  it('writes a safetensors file with the tensors of the spec, all zeros by default', async () => {
    const out = await tributary(['model', 'init', '--spec', SPEC, '--out', 'init.safetensors']);
    expect(out.code, out.stderr).toBe(0);
    const { tensors } = decodeSafetensors(await readFile(join(dir, 'init.safetensors')));
    expect(Object.keys(tensors).sort()).toEqual(['b', 'w']);
    expect(tensors['w']?.shape).toEqual([784, 10]);
    expect(tensors['b']?.dtype).toBe('F32');
    expect(toFloat64(tensors['w']!).every((v) => v === 0)).toBe(true);
  });

  it('draws the same normal values from the same seed, and others from another seed', async () => {
    const digest = async (seed: string, out: string): Promise<string> => {
      const r = await tributary(['model', 'init', '--spec', SPEC, '--init', 'normal', '--seed', seed, '--out', out, '--json']);
      expect(r.code, r.stdout).toBe(0);
      return sha256Hex(await readFile(join(dir, out)));
    };
    const first = await digest('7', 'a.safetensors');
    expect(await digest('7', 'b.safetensors')).toBe(first);
    expect(await digest('8', 'c.safetensors')).not.toBe(first);
  });

  it('keeps uniform values within the scale', async () => {
    const r = await tributary(['model', 'init', '--spec', 'w:F64:[1000]', '--init', 'uniform', '--scale', '0.5', '--out', 'u.safetensors']);
    expect(r.code, r.stderr).toBe(0);
    const w = toFloat64(decodeSafetensors(await readFile(join(dir, 'u.safetensors'))).tensors['w']!);
    expect(w.every((v) => Math.abs(v) <= 0.5)).toBe(true);
    expect(w.some((v) => v !== 0)).toBe(true);
  });

  it('refuses an unknown dtype, naming the flag and the dtypes it takes', async () => {
    const r = await tributary(['model', 'init', '--spec', 'w:F33:[4]', '--out', 'x.safetensors', '--json']);
    expect(r.code).not.toBe(0);
    const { error } = envelopeOf(r);
    expect(error?.code).toBe('INVALID_ARGUMENT');
    expect(error?.message).toContain('--spec');
    expect(error?.message).toContain('F32, F64');
  });

  it('refuses random values for an integer tensor', async () => {
    const r = await tributary(['model', 'init', '--spec', 'n:I32:[4]', '--init', 'normal', '--out', 'x.safetensors', '--json']);
    expect(envelopeOf(r).error?.message).toContain('needs a float dtype');
  });

  it('refuses a spec of more values than the bound', async () => {
    const r = await tributary(['model', 'init', '--spec', 'w:F32:[100000,100000]', '--out', 'x.safetensors', '--json']);
    expect(envelopeOf(r).error?.message).toContain('more than');
  });

  it('keeps an existing file unless told --force', async () => {
    await writeFile(join(dir, 'init.safetensors'), 'mine');
    const refused = await tributary(['model', 'init', '--spec', SPEC, '--out', 'init.safetensors', '--json']);
    expect(envelopeOf(refused).error?.code).toBe('ALREADY_EXISTS');
    expect(envelopeOf(refused).error?.hint).toContain('--force');
    expect(await readFile(join(dir, 'init.safetensors'), 'utf8')).toBe('mine');
    const forced = await tributary(['model', 'init', '--spec', SPEC, '--out', 'init.safetensors', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
  });
});

describe('tributary model inspect', () => {
  it('lists names, dtypes, shapes, value counts, sizes and the file digest', async () => {
    await tributary(['model', 'init', '--spec', SPEC, '--out', 'init.safetensors']);
    const r = await tributary(['model', 'inspect', 'init.safetensors', '--json']);
    const result = envelopeOf<{ sha256: string; values: number; tensors: Array<{ name: string; dtype: string; shape: number[]; values: number; bytes: number }> }>(r).result;
    expect(result?.sha256).toBe(sha256Hex(await readFile(join(dir, 'init.safetensors'))));
    expect(result?.values).toBe(7850);
    expect(result?.tensors).toEqual([
      { name: 'b', dtype: 'F32', shape: [10], values: 10, bytes: 40 },
      { name: 'w', dtype: 'F32', shape: [784, 10], values: 7840, bytes: 31360 },
    ]);
  });

  it('says a file that is not safetensors is not one', async () => {
    await writeFile(join(dir, 'notes.txt'), 'hello, this is not a model');
    const r = await tributary(['model', 'inspect', 'notes.txt', '--json']);
    expect(envelopeOf(r).error?.message).toContain('is not a safetensors file');
  });

  it('says a directory is a directory', async () => {
    await mkdir(join(dir, 'models'));
    const r = await tributary(['model', 'inspect', 'models', '--json']);
    expect(envelopeOf(r).error?.message).toContain('is a directory');
  });
});
