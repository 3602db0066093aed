import { resolve } from 'node:path';
import { encodeSafetensors, formatModelSpec, initialTensors, MODEL_INITS, parseModelSpec, sha256Hex, TributaryError } from '@tributary/proto';
import type { ModelInit, TensorDeclaration } from '@tributary/proto';
import { invalidValue } from '../../../config/values.js';
import { defineCommand } from '../../command.js';
import { writeFileAtomically } from '../../files.js';
import { optFlag, optInteger, optString, UINT32_MAX } from '../../input.js';
import { fields, formatBytes } from '../../render.js';

export interface ModelInitResult {
  /** The spec as written, e.g. `w:F32:[784,10],b:F32:[10]`. */
  readonly spec: string;
  readonly init: ModelInit;
  readonly seed: number;
  readonly scale: number;
  readonly size: number;
  readonly sha256: string;
  /** Absolute path of the written safetensors file. */
  readonly file: string;
}

export default defineCommand({
  path: ['model', 'init'],
  summary: "Write a federation's initial model (.safetensors) from a tensor spec, e.g. \"w:F32:[784,10],b:F32:[10]\"",
  options(cmd) {
    cmd.requiredOption('--spec <tensors>', 'tensors as name:DTYPE:[dims], comma-separated, e.g. "w:F32:[784,10],b:F32:[10]"');
    cmd.option('--init <how>', `initial values: ${MODEL_INITS.join(', ')} (default: zeros)`);
    cmd.option('--seed <n>', 'seed of normal and uniform (default: 0)');
    cmd.option('--scale <x>', 'standard deviation (normal) or half-width (uniform) (default: 0.01)');
    cmd.requiredOption('--out <file>', 'where to write the .safetensors file');
    cmd.option('--force', 'replace an existing file');
  },
  parse(raw) {
    const init = optString(raw, 'init') ?? 'zeros';
    if (!(MODEL_INITS as readonly string[]).includes(init)) throw invalidValue('--init', init, `expected one of ${MODEL_INITS.join(', ')}`);
    const scaleText = optString(raw, 'scale');
    const scale = scaleText === undefined ? 0.01 : Number(scaleText);
    if (!(Number.isFinite(scale) && scale > 0)) throw invalidValue('--scale', scaleText, 'expected a positive number, e.g. 0.01');
    let declarations: TensorDeclaration[];
    try {
      declarations = parseModelSpec(optString(raw, 'spec') ?? '');
    } catch (err) {
      throw invalidValue('--spec', optString(raw, 'spec'), TributaryError.from(err).message);
    }
    return {
      declarations,
      init: init as ModelInit,
      seed: optInteger(raw, 'seed', '--seed', 0, UINT32_MAX) ?? 0,
      scale,
      out: optString(raw, 'out') ?? '',
      force: optFlag(raw, 'force'),
    };
  },
  async run(input, ctx): Promise<ModelInitResult> {
    let tensors;
    try {
      tensors = initialTensors(input.declarations, { init: input.init, seed: input.seed, scale: input.scale });
    } catch (err) {
      throw invalidValue('--init', input.init, TributaryError.from(err).message);
    }
    const bytes = encodeSafetensors(tensors);
    const file = resolve(ctx.cwd, input.out);
    await writeFileAtomically(file, bytes, { overwrite: input.force, flag: '--out' });
    return { spec: formatModelSpec(input.declarations), init: input.init, seed: input.seed, scale: input.scale, size: bytes.length, sha256: sha256Hex(bytes), file };
  },
  render(r) {
    return [
      `Wrote ${r.file} (${formatBytes(r.size)}).`,
      fields([
        ['tensors', r.spec],
        ['init', r.init === 'zeros' ? 'zeros' : `${r.init} (seed ${r.seed}, scale ${r.scale})`],
        ['sha256', r.sha256],
      ]),
      '',
      'Create a federation from it:',
      `  tributary federation create <name> --initial-model ${r.file}`,
    ].join('\n');
  },
});
