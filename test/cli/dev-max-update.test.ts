import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors, tensor } from '@tributary/proto';
import { envelopeOf, runCli, startCli, type CliProcess } from '../helpers/cli.js';

describe('tributary dev --max-update-bytes', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-dev-max-update-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('holds initial models to the size it is given', { timeout: 120_000 }, async () => {
    const model = join(dir, 'model.safetensors');
    await writeFile(model, encodeSafetensors({ w: tensor('F32', [1_024], new Float32Array(1_024)) }));
    let dev: CliProcess | undefined;
    try {
      dev = await startCli(['dev', '--dir', join(dir, 'dev'), '--grpc-listen', '127.0.0.1:0', '--json', '--max-update-bytes', '1KiB'], { withoutOuterSettings: true });
      const { exports } = (JSON.parse(dev.firstLine) as { result: { exports: Record<string, string> } }).result;
      const r = await runCli(['federation', 'create', 'small', '--initial-model', model, '--json'], { env: exports, timeoutMs: 60_000 });
      expect(r.code).toBe(1);
      expect(envelopeOf(r).error?.code).toBe('PAYLOAD_TOO_LARGE');
    } finally {
      await dev?.stop();
    }
  });

  it('refuses a size it cannot read, saying which flag', { timeout: 60_000 }, async () => {
    const r = await runCli(['dev', '--dir', join(dir, 'refused'), '--json', '--max-update-bytes', 'lots'], { withoutOuterSettings: true, timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    const { error } = envelopeOf(r);
    expect(error?.code).toBe('INVALID_ARGUMENT');
    expect(error?.message).toContain('--max-update-bytes');
  });
});
