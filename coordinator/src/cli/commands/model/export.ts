import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { defineCommand } from '../../command.js';
import { nameArg, optInteger, optString } from '../../input.js';
import { formatBytes } from '../../render.js';

export interface ModelExportResult {
  readonly federation: string;
  readonly version: number;
  readonly sha256: string;
  readonly size: number;
  /** Absolute path of the written safetensors file. */
  readonly file: string;
}

export default defineCommand({
  path: ['model', 'export'],
  summary: 'Download a model version (SHA-256 checked) to a safetensors file',
  args: [['<federation>', 'federation name']],
  connects: true,
  options(cmd) {
    cmd.option('--version <n>', 'model version (default: the latest)');
    cmd.requiredOption('--out <file>', 'where to write the .safetensors file');
  },
  parse(raw) {
    return {
      federation: nameArg(raw, 0, 'federation'),
      version: optInteger(raw, 'version', '--version', 1, Number.MAX_SAFE_INTEGER),
      out: optString(raw, 'out') ?? '',
    };
  },
  async run(input, ctx): Promise<ModelExportResult> {
    const admin = await ctx.admin();
    const model = await admin.downloadModel(input.federation, input.version, { signal: ctx.signal });
    const file = resolve(ctx.cwd, input.out);
    await mkdir(dirname(file), { recursive: true });
    // Write beside the target, then rename: readers never see a partial file.
    const partial = `${file}.${randomBytes(4).toString('hex')}.partial`;
    try {
      await writeFile(partial, model.bytes);
      await rename(partial, file);
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
    return { federation: input.federation, version: model.version, sha256: model.sha256, size: model.bytes.length, file };
  },
  render(r) {
    return `Wrote ${r.federation} model version ${r.version} (${formatBytes(r.size)}, sha256 ${r.sha256}) to ${r.file}.`;
  },
});
