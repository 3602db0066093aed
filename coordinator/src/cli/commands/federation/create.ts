import { resolve } from 'node:path';
import type { Federation__Output } from '@tributary/proto';
import { defineCommand } from '../../command.js';
import { openRegularFile } from '../../files.js';
import { nameArg, optString } from '../../input.js';
import { plural } from '../../render.js';
import { parseSettingsFlags, settingsOptions } from './settings.js';
import { settingsSummary } from './show.js';

const INITIAL_MODEL_HINT = 'Write one with `tributary model init --spec "w:F32:[4,3],b:F32:[3]" --out init.safetensors`, or save your model with the safetensors library.';

export default defineCommand({
  path: ['federation', 'create'],
  summary: 'Create a federation from initial weights (a safetensors file)',
  args: [['<name>', 'federation name']],
  connects: true,
  options(cmd) {
    cmd
      .requiredOption('--initial-model <file>', 'initial weights (.safetensors); defines the model spec')
      .option('--description <text>', 'what the federation is for');
    settingsOptions(cmd, 'create');
  },
  parse(raw) {
    const settings = parseSettingsFlags(raw, 'create');
    return {
      name: nameArg(raw, 0, 'federation'),
      description: optString(raw, 'description'),
      initialModel: optString(raw, 'initialModel') ?? '',
      settings,
    };
  },
  async run(input, ctx): Promise<Federation__Output> {
    const path = resolve(ctx.cwd, input.initialModel);
    // Streamed from the file in chunks: initial weights of any size never sit in memory whole.
    await openRegularFile(path, '--initial-model', INITIAL_MODEL_HINT);
    const admin = await ctx.admin();
    return admin.createFederation({
      name: input.name,
      initialModel: { file: path },
      settings: input.settings,
      ...(input.description === undefined ? {} : { description: input.description }),
    });
  },
  render(f) {
    const tensors = f.modelSpec?.tensors.length ?? 0;
    return `Created federation "${f.name}" (${settingsSummary(f.settings)}; model of ${plural(tensors, 'tensor')}, version ${f.latestVersion}).`;
  },
});
